"""Layout: imports point down the stages only, no circles, and function-level imports are kept
for optional heavy dependencies (they load lazily so a light command stays light)."""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

NLP = Path(__file__).resolve().parents[2] / "nlp"

# Lower rank first; a module may import only from its own unit or a lower rank.
RANKS = [("types", "errors"), ("fsio", "limits"), ("codebook", "corpora", "resolve"), ("text",),
         ("embed",), ("store",), ("project",), ("refiqda",), ("ingest",), ("classify",),
         ("topics",), ("report",), ("export",), ("pipeline",), ("app", "__main__")]
RANK = {unit: i for i, units in enumerate(RANKS) for unit in units}

# Third-party packages that may be imported inside a function (heavy or optional).
LAZY_OK = {"torch", "sentence_transformers", "bertopic", "umap", "hdbscan", "spacy", "onnx",
           "onnxruntime", "model2vec", "tokenizers", "streamlit", "kaleido", "plotly", "pypdf",
           "docx", "openpyxl", "matplotlib", "pandas", "alembic", "lxml",
           "distributed"}  # the [cluster] extra, only for `nlp code --cluster`
# nlp modules that load spaCy at import: importable lazily.
LAZY_NLP = {"nlp.text.anonymise", "nlp.text.process"}
# The command line imports a stage when its command runs, so `nlp --help` or `nlp init` does not
# pay for scikit-learn, SciPy and pandas (0.3 s instead of 1.5 s).
LAZY_IMPORTERS = {"nlp.app.cli", "nlp.app.demo"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in NLP.rglob("*.py"):
        rel = path.relative_to(NLP.parent).with_suffix("")
        if "migrations" in rel.parts or path.name == "build_gazetteers.py":
            continue
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """(imported nlp module or third-party top name, at module level?) for one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level = {id(n) for n in tree.body}
    for n in tree.body:  # `if TYPE_CHECKING:` / try blocks at module level count as module level
        if isinstance(n, (ast.If, ast.Try)):
            top_level |= {id(c) for c in ast.walk(n)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in MODULES]
            found += [(m, id(node) in top_level) for m in (subs or [mod])]
    return found


def _unit(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        graph[name] = {m for m, _ in _imports(name, path) if m in MODULES and m != "nlp"}
    return graph


def test_no_import_circles():
    graph, state, stack = _graph(), {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_imports_point_down_the_stages():
    wrong = []
    for name, targets in _graph().items():
        if name == "nlp":
            continue
        for t in targets:
            a, b = _unit(name), _unit(t)
            if a != b and RANK[b] > RANK[a]:
                wrong.append(f"{name} imports {t}")
    assert not wrong, wrong


def test_function_level_imports_only_for_heavy_dependencies():
    wrong = []
    for name, path in MODULES.items():
        for m, top in _imports(name, path):
            if top:
                continue
            if m.startswith("nlp"):
                if m not in LAZY_NLP and name not in LAZY_IMPORTERS:
                    wrong.append(f"{name}: {m}")
            elif m.split(".")[0] not in LAZY_OK:
                wrong.append(f"{name}: {m}")
    assert not wrong, wrong


def test_every_unit_has_a_rank():
    assert {_unit(m) for m in MODULES if m != "nlp"} <= set(RANK)


# -- stages take data and give data; the pipeline alone takes a project (issue 26) -----------
STAGES = ("ingest", "text", "embed", "classify", "topics", "report", "export", "refiqda")
PROJECT_UNITS = ("store", "project", "pipeline", "app")  # a stage imports none of these


def _project_level(path: Path) -> list[str]:
    """Functions of a module whose first parameter is a project or a store (by name or
    annotation): project-level code, which belongs in nlp/pipeline/."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        args = [*node.args.posonlyargs, *node.args.args]
        if args and args[0].arg in ("self", "cls"):
            args = args[1:]
        if not args:
            continue
        ann = ast.unparse(args[0].annotation) if args[0].annotation else ""
        if args[0].arg in ("project", "store") or re.search(r"\b(Project|Store)\b", ann):
            out.append(f"{node.name}({args[0].arg}: {ann or '?'})")
    return out


def test_stages_import_no_project_store_pipeline_or_app():
    """A stage package takes data and gives data: it imports neither the store, the project,
    the pipeline nor the app (not even for types)."""
    wrong = [f"{name} imports {m}" for name, path in MODULES.items() if _unit(name) in STAGES
             for m, _ in _imports(name, path) if m.startswith("nlp.") and _unit(m) in PROJECT_UNITS]
    assert not wrong, wrong


def test_stages_hold_no_project_level_functions():
    wrong = [f"{name}: {f}" for name, path in MODULES.items() if _unit(name) in STAGES
             for f in _project_level(path)]
    assert not wrong, wrong


def test_store_imports_no_pipeline_app_or_project_level_code():
    """The store is below the pipeline: it imports neither the pipeline, the app, the project
    nor a stage module holding project-level code."""
    wrong = []
    for name, path in MODULES.items():
        if _unit(name) != "store":
            continue
        for m, _ in _imports(name, path):
            if not m.startswith("nlp.") or m not in MODULES:
                continue
            if _unit(m) in ("pipeline", "app", "project"):
                wrong.append(f"{name} imports {m}")
            elif _unit(m) in STAGES and _project_level(MODULES[m]):
                wrong.append(f"{name} imports {m}, which holds project-level code")
    assert not wrong, wrong


def test_pipeline_imports_no_app():
    wrong = [f"{name} imports {m}" for name, path in MODULES.items() if _unit(name) == "pipeline"
             for m, _ in _imports(name, path) if m.startswith("nlp.") and _unit(m) == "app"]
    assert not wrong, wrong


def test_the_project_level_check_finds_project_code(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def a(project): ...\ndef b(s: 'Store', x): ...\n"
                     "def c(corpus, store=None): ...\nclass K:\n    def d(self, project): ...\n",
                     encoding="utf-8")
    assert _project_level(probe) == ["a(project: ?)", "b(s: 'Store')", "d(project: ?)"]


# -- the store owns every SQL statement (issue 26) ---------------------------------------------
STORE = NLP / "store"
# SQLAlchemy in code: the package, statement builders, a table's columns or statements, a
# connection's execute, the store's table definitions.
SQL_CODE = re.compile(
    r"\bimport\s+sqlalchemy\b|\bfrom\s+sqlalchemy\b|\bsa\.\w"
    r"|(?<![.\w])(?<!def )(select|insert|update|delete|text)\("
    r"|\.(select|insert|update|delete)\(\s*\)"
    r"|\b\w+\.c\.\w+|\.(execute|exec_driver_sql|executemany)\("
    r"|\bstore\.schema\b|\bfrom\s+(\.+|nlp\.)store\s+import\s+(\w+,\s*)*schema\b")
# SQL in strings: a statement's opening words.
SQL_TEXT = re.compile(r"\b(SELECT\s+[\w*]|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                      r"CREATE\s+(TABLE|INDEX)|DROP\s+TABLE|ALTER\s+TABLE|PRAGMA\s+\w)")


def _sql_outside_store(path: Path, root: Path = NLP.parent) -> list[str]:
    """'file:line: what' for every SQL statement use in `path` (code and string literals)."""
    out = []
    src = path.read_text(encoding="utf-8")
    code = src.splitlines()
    tokens = list(tokenize.generate_tokens(io.StringIO(src).readline))
    # Code lines with strings and comments blanked, so only code is matched as code.
    lines = [list(line) for line in code]
    for tok in tokens:
        if tok.type not in (tokenize.STRING, tokenize.COMMENT) and \
                getattr(tokenize, "FSTRING_MIDDLE", None) != tok.type:
            continue
        if tok.type != tokenize.COMMENT and SQL_TEXT.search(tok.string):
            out.append(f"{path.relative_to(root)}:{tok.start[0]}: SQL in a string")
        (r0, c0), (r1, c1) = tok.start, tok.end
        for r in range(r0, r1 + 1):
            row = lines[r - 1]
            a = c0 if r == r0 else 0
            b = c1 if r == r1 else len(row)
            row[a:b] = " " * (b - a)
    for i, row in enumerate(lines, 1):
        m = SQL_CODE.search("".join(row))
        if m:
            out.append(f"{path.relative_to(root)}:{i}: {m.group(0).strip()!r}")
    return out


def test_no_sql_outside_the_store():
    """Only nlp/store/ builds or runs SQL: every other package asks the store (its documented
    API in nlp/store/__init__.py), so a statement, a transaction's reads and its writes live in
    one place."""
    found = [hit for path in sorted(NLP.rglob("*.py")) if STORE not in path.parents
             for hit in _sql_outside_store(path)]
    assert not found, "SQL outside nlp/store/:\n" + "\n".join(found)


def test_the_sql_check_finds_sql(tmp_path):
    """The check above is not blind: it names each kind of statement use, file and line."""
    bad = tmp_path / "probe.py"
    lines = ["import sqlalchemy as sa", "q = sa.select(t)", "conn.execute(q)",
             "rows = sources.select().where(sources.c.content_hash == h)",
             "x = 'SELECT id FROM responses'", "from ..store.schema import memos",
             "conn.execute(insert(memos), rows)"]
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        hits = _sql_outside_store(bad, tmp_path)
    finally:
        bad.unlink()
    assert [h.split(":")[1] for h in hits] == ["5", "1", "2", "3", "4", "6", "7"], hits
    ok = ["d.update(x)", "items.insert(0, x)", "st.selectbox('a', b)", "# SELECT x FROM y",
          "'select a theme'", "text_of(x)", "st.text(x)", "def text(self):",
          "from .schema import CODES"]
    bad.write_text("\n".join(ok) + "\n", encoding="utf-8")
    try:
        assert _sql_outside_store(bad, tmp_path) == []
    finally:
        bad.unlink()


def test_the_pipeline_api_names_what_it_holds():
    """Every name nlp.pipeline documents is found in the module its table names (they load
    when first used, so `import nlp` stays light)."""
    import importlib

    import nlp.pipeline as pipeline

    assert set(pipeline.__all__) == set(pipeline._WHERE)
    for name, where in pipeline._WHERE.items():
        module = importlib.import_module(f"nlp.pipeline.{where}")
        assert getattr(pipeline, name) is getattr(module, name), name
