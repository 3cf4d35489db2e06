"""The `platemark` command: a thin face over the library. Each command calls one library function."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from platemark.errors import PlatemarkError
from platemark.ingest.fetch import Politeness
from platemark.spreadsheet import spreadsheet_safe

if TYPE_CHECKING:
    from platemark.search.engine import SearchResponse


def catalog_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--catalog and --media, shared by every command that opens a catalog."""
    command = click.option(
        "--media",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="PLATEMARK_MEDIA",
        help="Images and index files of a PostgreSQL catalog (recorded when it is made; "
        "an embedded catalog keeps them in its directory).",
    )(command)
    return click.option(
        "--catalog",
        default="catalog",
        envvar="PLATEMARK_CATALOG",
        show_default=True,
        help="Catalog directory, or postgresql://user@host/database.",
    )(command)


class OutputFile(click.Path):
    """A file a command writes when it is done: its folder is checked before the work starts, so a
    typo in the path fails at once instead of after a long run whose result is then lost."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        folder = Path(path).absolute().parent
        if not folder.is_dir():
            self.fail(f"{folder} is not a folder that exists", param, ctx)
        if not os.access(folder, os.W_OK):
            self.fail(f"{folder} is not writable", param, ctx)
        return path


class PlatemarkGroup(click.Group):
    """Turns PlatemarkError from any command into a one-line message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PlatemarkError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=PlatemarkGroup)
@click.version_option(package_name="platemark")
def cli() -> None:
    """Find the catalogue record of a print from a phone photo."""


#: Failures ingest prints on the terminal; the report file lists them all.
FAILURES_SHOWN = 50

#: Harvest options: (flag, Politeness field, type, help); defaults come from Politeness.
POLITENESS_OPTIONS = (
    ("--per-host", "per_host", click.IntRange(1, 64), "Downloads in flight per server."),
    ("--delay", "delay", click.FloatRange(0, 60), "Seconds between the starts of two requests to one server."),
    ("--timeout", "timeout", click.FloatRange(1, 600), "Seconds to wait for a server."),
    ("--retries", "retries", click.IntRange(0, 10), "Retries after 429, 5xx or a dropped connection."),
)


def politeness_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--per-host, --delay, --timeout, --retries, --max-mb and --impolite, handed to the command
    as one `politeness` argument."""
    defaults = Politeness()

    def build(ctx: click.Context, param: click.Parameter, impolite: bool) -> Politeness:
        values = {field: ctx.params.pop(field) for _, field, _, _ in POLITENESS_OPTIONS}
        chosen = Politeness.off() if impolite else replace(defaults, **values)
        return replace(chosen, max_bytes=int(ctx.params.pop("max_mb") * 1e6))

    command = click.option(
        "--impolite",
        "politeness",
        is_flag=True,
        callback=build,
        help="Your own server: 16 downloads per host, no delay.",
    )(command)
    command = click.option(
        "--max-mb",
        type=click.FloatRange(0.1, 1000),
        default=defaults.max_bytes / 1e6,
        show_default=True,
        is_eager=True,
        help="Largest download (MB).",
    )(command)
    for flag, field, kind, text in reversed(POLITENESS_OPTIONS):  # eager: read before --impolite's callback
        default = getattr(defaults, field)
        command = click.option(flag, field, type=kind, default=default, show_default=True, is_eager=True, help=text)(
            command
        )
    return command


class IngestCommand(click.Command):
    """Lists the kinds of source under the options, installed plugins' included."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from platemark.ingest.sources.base import source_kinds

        with formatter.section("SOURCE can be"):
            formatter.write_dl([(kind.kind, kind.description) for kind in source_kinds()])


@cli.command(cls=IngestCommand)
@click.argument("source")
@catalog_options
@click.option(
    "--collection", help="Collection name (default: the folder's name, the CSV's, or the IIIF collection's label)."
)
@click.option("--prune", is_flag=True, help="Delete records that are no longer in the source.")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes (default: CPU count).")
@politeness_options
@click.option(
    "--report",
    "report_path",
    type=OutputFile(),
    help="Write every failed entry to this CSV (default: ingest-report.csv in the catalog's media, when any failed).",
)
def ingest(
    source: str,
    catalog: str,
    media: Path | None,
    collection: str | None,
    prune: bool,
    workers: int | None,
    politeness: Politeness,
    report_path: Path | None,
) -> None:
    """Index a collection: a folder, a CSV of image URLs, or IIIF manifests.

    Re-running processes only new or changed images; remote images are fetched again only if
    the server says they changed. Exits 1 if any image or manifest failed.

    Example: platemark ingest collections/prints --catalog ./catalog
    """
    from platemark.ingest.pipeline import ingest as run_ingest

    report = run_ingest(
        source, catalog, media=media, collection=collection, prune=prune, workers=workers, politeness=politeness
    )
    click.echo(
        f"{report.collection}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.placeholders_removed} placeholder images dropped, {report.pruned} pruned, "
        f"{len(report.failed)} failed" + (f" ({report.requests} HTTP requests)" if report.requests else "")
    )
    for problem in report.problems:
        click.echo(f"  note: {problem}", err=True)
    for entry, message in report.failed[:FAILURES_SHOWN]:
        click.echo(f"  failed: {entry}: {message}", err=True)
    if report.failed or report_path:
        report_path = report_path or report.media / "ingest-report.csv"
        _write_failures(report_path, report.failed)
        more = len(report.failed) - FAILURES_SHOWN
        shown = f"{more} more failure(s); all" if more > 0 else f"{len(report.failed)} failure(s)"
        click.echo(f"  {shown} listed in {report_path}", err=True)
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.argument("photo", type=click.Path(exists=True, path_type=Path))
@catalog_options
@click.option("--top", "top_k", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--collection", "collections", multiple=True, help="Only search this collection (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option(
    "--csv",
    "csv_path",
    type=OutputFile(),
    help="Batch mode: write one row per photo to this CSV.",
)
def search(
    photo: Path,
    catalog: str,
    media: Path | None,
    top_k: int,
    collections: tuple[str, ...],
    as_json: bool,
    csv_path: Path | None,
) -> None:
    """Find the records shown in a photo, or in every photo of a folder.

    Example: platemark search photo.jpg --catalog ./catalog --top 5 --json
    """
    from platemark.errors import UnreadableImage
    from platemark.ingest.sources.folder import image_files
    from platemark.search.engine import Searcher, SearchResponse
    from platemark.store import open_catalog
    from platemark.store.filters import RecordFilter

    photos = image_files(photo) if photo.is_dir() else [photo]
    if not photos:
        raise click.ClickException(f"{photo}: no images found")
    searcher = Searcher(open_catalog(catalog, media=media))
    responses: list[SearchResponse] = []
    errors: dict[str, str] = {}
    for path in photos:
        try:
            responses.append(searcher.search(path, top_k=top_k, where=RecordFilter(collections=collections)))
        except UnreadableImage as exc:
            if len(photos) == 1:
                raise
            errors[str(path)] = str(exc)
            responses.append(SearchResponse(str(path)))
    if csv_path:
        _write_batch_csv(csv_path, responses, errors)
        click.echo(f"wrote {len(responses)} rows to {csv_path}")
    elif as_json:
        payload = [r.to_dict() for r in responses]
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2, ensure_ascii=False))
    else:
        for response in responses:
            _print_response(response)
    for message in errors.values():
        click.echo(f"failed: {message}", err=True)
    if errors:
        sys.exit(1)


#: How `search` marks each verdict (see platemark.search.verdicts), padded to one width.
VERDICT_BADGES = {"answer": "VERIFIED", "also_in_photo": "ALSO    ", "related": "RELATED ", "candidate": "        "}


def _print_response(response: SearchResponse) -> None:
    click.echo(f"{response.query}  ({response.elapsed_ms:.0f} ms)")
    if not response.results:
        click.echo("  no results")
    for rank, hit in enumerate(response.results, start=1):
        badge = VERDICT_BADGES[hit.verdict]
        title = hit.record.metadata.get("title", "")
        relation = f"  {hit.relation}" if hit.relation else ""
        click.echo(
            f"  {rank:>2}. {badge} {hit.record.collection}/{hit.record.record_id}{relation}  "
            f"inliers={hit.verification.inliers:<4} similarity={hit.similarity:.3f}  {title[:60]}"
        )


def _write_failures(path: Path, failed: list[tuple[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["entry", "problem"])
        writer.writerows([spreadsheet_safe(entry), spreadsheet_safe(problem)] for entry, problem in failed)


#: Columns of `search DIR --csv`, one row per photo about its best result.
BATCH_COLUMNS = (
    "query",
    "record_id",
    "collection",
    "verified",
    "relation",
    "inliers",
    "score",
    "title",
    "elapsed_ms",
    "error",
)


def _write_batch_csv(path: Path, responses: list[SearchResponse], errors: dict[str, str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(BATCH_COLUMNS)
        for response in responses:
            top = response.results[0] if response.results else None
            row = [
                response.query,
                top.record.record_id if top else "",
                top.record.collection if top else "",
                top.verification.verified if top else False,
                (top.relation or "") if top else "",
                top.verification.inliers if top else 0,
                top.score if top else "",
                top.record.metadata.get("title", "") if top else "",
                round(response.elapsed_ms, 1),
                errors.get(response.query, ""),
            ]
            writer.writerow([spreadsheet_safe(cell) for cell in row])


@cli.command()
@click.argument("ground_truth", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@catalog_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--report", type=OutputFile(), help="Write an HTML report here.")
def evaluate(ground_truth: Path, catalog: str, media: Path | None, as_json: bool, report: Path | None) -> None:
    """Score the catalog against a `query,record_ids` ground-truth CSV.

    Example: platemark evaluate bench/museum/ground_truth.csv --catalog ./catalog --json
    """
    from platemark.evaluate.run import evaluate as run_evaluate
    from platemark.search.engine import Searcher
    from platemark.store import open_catalog

    searcher = Searcher(open_catalog(catalog, media=media))
    result = run_evaluate(searcher, ground_truth)
    if report:
        from platemark.evaluate.report import write_report

        write_report(result, report, catalog=searcher.catalog)
    if as_json:
        click.echo(json.dumps(result.summary, indent=2))
    else:
        for key, value in result.summary.items():
            click.echo(f"{key:>28}: {value}")
    if report:
        click.echo(f"report written to {report}", err=True)


@cli.group()
def feedback() -> None:
    """Visitors' answers to search results ("this is it", "not this one", "none of these")."""


@feedback.command(name="export")
@click.argument("ground_truth", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@catalog_options
def export_feedback(ground_truth: Path, catalog: str, media: Path | None) -> None:
    """Write visitors' answers as a ground-truth CSV for `platemark evaluate`, photos beside it.

    Example: platemark feedback export visitors.csv --catalog ./catalog
    """
    from platemark.evaluate.feedback import export_feedback as run_export
    from platemark.store import open_catalog

    with open_catalog(catalog, media=media) as store:
        done = run_export(store, ground_truth)
    click.echo(
        f"wrote {done.queries} queries to {ground_truth}: {done.found} with their record, "
        f"{done.not_in_collection} not in the collection"
    )
    if done.only_not_this:
        click.echo(f'left out {done.only_not_this} search(es) answered only "not this one"')
    if done.photos_missing:
        click.echo(f"left out {done.photos_missing} search(es) whose photo is gone", err=True)
    click.echo(f"score them with: platemark evaluate {ground_truth} --catalog {catalog}")


@cli.command()
@catalog_options
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def info(catalog: str, media: Path | None, as_json: bool) -> None:
    """Show the catalog's collections, record counts, feature extractors and size on disk.

    Example: platemark info --catalog ./catalog
    """
    from platemark.store import open_catalog

    with open_catalog(catalog, media=media) as store:
        details = store.info()
    if as_json:
        click.echo(json.dumps(details, indent=2))
        return
    click.echo(f"catalog:     {details['location']} ({details['backend']})")
    click.echo(f"media:       {details['media']}")
    click.echo(f"records:     {details['records']}")
    for name, count in details["collections"].items():
        click.echo(f"  {name}: {count}  (from {details['sources'][name]})")
    click.echo(f"global:      {details['extractors'].get('global')}")
    click.echo(f"local:       {details['extractors'].get('local')}")
    click.echo(f"keypoints:   {details['local_keypoints']}")
    index = details["index"]
    click.echo(
        f"index:       {index['indexed']} of {details['records']} records indexed, {index['segments']} segment(s), "
        f"{index['postings_mb']} MB of postings (codebook {index['codebook']}), "
        f"{index['compressed']} record(s) with compressed descriptors"
    )
    free = f" ({details['free_mb']} MB of it free, filled by new records first)" if details["free_mb"] else ""
    click.echo(f"size:        {details['size_mb']} MB{free}")


@cli.command()
@click.argument("collection", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder.")
@click.option("--queries", type=click.IntRange(1), default=100, show_default=True, help="Photos to make.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--hatch", is_flag=True, help="First render the collection as hatched engravings.")
@click.option(
    "--unknown",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="With --hatch: prints left out of the collection but photographed (not-in-collection).",
)
def simulate(collection: Path, out: Path, queries: int, seed: int, hatch: bool, unknown: int) -> None:
    """Make synthetic phone photos of a collection and a ground_truth.csv for `evaluate`.

    Example: platemark simulate collections/aic --out sim/aic --queries 200 --seed 1
    """
    from platemark.simulate.dataset import simulate as run_simulate

    result = run_simulate(collection, out, queries=queries, seed=seed, hatch=hatch, unknown=unknown)
    click.echo(f"{result.queries} photos of records, {result.unknown} not in the collection")
    if result.collection:
        click.echo(f"collection: {result.collection}")
    click.echo(f"ground truth: {result.ground_truth}")


@cli.command()
@catalog_options
def migrate(catalog: str, media: Path | None) -> None:
    """Bring a catalog's schema up to date (safe to re-run; nothing to do prints so).

    In an empty PostgreSQL database this makes the catalog (give --media). An embedded
    catalog is made by `platemark ingest`.

    Example: platemark migrate --catalog postgresql://platemark@db/prints --media /srv/platemark
    """
    from platemark.store import is_postgres_url, open_catalog

    if not is_postgres_url(catalog) and not (Path(catalog) / "catalog.db").exists():
        raise click.ClickException(f"{catalog}: no catalog here (run `platemark ingest` first)")
    with open_catalog(catalog, media=media, create=True) as store:
        applied = store.migrated
    click.echo(f"applied {', '.join(applied)}" if applied else "schema is up to date")


@cli.command()
@catalog_options
@click.option("--collection", help="Only pairs with a record of this collection.")
@click.option("--across-collections", is_flag=True, help="Also pair records of different collections.")
@click.option("--csv", "csv_path", type=OutputFile(), required=True, help="Write the pairs here.")
@click.option("--no-mirrors", is_flag=True, help="Do not look for mirror images (halves the lookups).")
@click.option("--again", is_flag=True, help="Forget the pairs found before and examine every record again.")
@click.option("--report", "report_path", type=OutputFile(), help="Also write a self-contained HTML page of the pairs.")
def duplicates(
    catalog: str,
    media: Path | None,
    collection: str | None,
    across_collections: bool,
    csv_path: Path,
    no_mirrors: bool,
    again: bool,
    report_path: Path | None,
) -> None:
    """Find every pair of records that show the same print: identical, rescan, detail, same_plate,
    mirror or overlap, with the evidence; pairs are kept, so a later run examines only new records.

    Example: platemark duplicates --catalog ./catalog --collection prints --csv pairs.csv
    """
    from tqdm import tqdm

    from platemark.index.build import update_index
    from platemark.search.duplicates import duplicate_pairs, groups, update_duplicates, write_csv
    from platemark.search.duplicates_report import write_duplicates_report
    from platemark.store import open_catalog

    with open_catalog(catalog, media=media) as store:
        if collection and collection not in store.collections():
            raise click.ClickException(f"unknown collection {collection!r}")
        update_index(store)  # records ingested since the last index update are examined too
        total = store.count() if again else len(store.unexamined())
        with tqdm(total=total, desc="duplicates", unit="record", disable=None) as bar:
            run = update_duplicates(store, mirrors=not no_mirrors, again=again, on_record=lambda: bar.update())
        pairs = duplicate_pairs(store, collection=collection, across_collections=across_collections)
        if report_path is not None:
            write_duplicates_report(pairs, report_path, catalog=store)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        write_csv(pairs, handle)
    counts = Counter(pair.relation for pair in pairs)
    summary = ", ".join(f"{n} {relation}" for relation, n in counts.most_common()) or "none"
    click.echo(
        f"examined {run.examined} record(s) in {run.seconds:.1f} s; {len(pairs)} pair(s) in "
        f"{len(groups(pairs))} group(s): {summary}; written to {csv_path}"
    )


@cli.command()
@catalog_options
@click.option("--retrain", is_flag=True, help="Train a new codebook now (searches go on with the old one meanwhile).")
def index(catalog: str, media: Path | None, retrain: bool) -> None:
    """Bring the search indexes up to date: index records not indexed yet, merge, retrain if grown.

    `ingest` does this itself (at least every minute and at the end); run it after an ingest was
    killed, with --retrain to rebuild the codebook, or after deleting an embedded catalog's saved
    global index (index/global-*) to have it built again here rather than by each worker.

    Example: platemark index --catalog ./catalog
    """
    from platemark.index.build import progress_line, update_index
    from platemark.store import open_catalog

    with open_catalog(catalog, media=media) as store, progress_line() as shown:
        store.warm()
        report = update_index(store, retrain=retrain, progress=shown)
    trained = "trained a codebook, " if report.trained else ""
    click.echo(
        f"{trained}indexed {report.indexed} record(s), merged {report.merged} segment(s), "
        f"compressed {report.compressed} record(s)' descriptors in {report.seconds:.1f} s (codebook {report.codebook})"
    )


@cli.command()
@click.argument("destination")
@catalog_options
@click.option(
    "--to-media",
    type=click.Path(file_okay=False, path_type=Path),
    help="Media directory of a PostgreSQL destination.",
)
def export(destination: str, catalog: str, media: Path | None, to_media: Path | None) -> None:
    """Copy the catalog (records, features, saved searches, images) into an empty one.

    DESTINATION is a directory (embedded catalog) or a postgresql:// URL.

    Example: platemark export postgresql://platemark@db/prints --catalog ./catalog --to-media /srv/platemark
    """
    _transfer(catalog, media, destination, to_media)


@cli.command(name="import")
@click.argument("source")
@catalog_options
@click.option(
    "--from-media",
    type=click.Path(file_okay=False, path_type=Path),
    help="Media directory of a PostgreSQL source (default: the one it recorded).",
)
def import_catalog(source: str, catalog: str, media: Path | None, from_media: Path | None) -> None:
    """Copy another catalog (a directory or a postgresql:// URL) into this empty one.

    Example: platemark import ./catalog --catalog postgresql://platemark@db/prints --media /srv/platemark
    """
    _transfer(source, from_media, catalog, media)


def _transfer(source: str, source_media: Path | None, target: str, target_media: Path | None) -> None:
    from platemark.index.build import update_index
    from platemark.store import open_catalog
    from platemark.store.transfer import copy_catalog

    with (
        open_catalog(source, media=source_media) as origin,
        open_catalog(target, media=target_media, create=True) as destination,
    ):
        report = copy_catalog(origin, destination)
        click.echo(
            f"copied {report.records} records, {report.searches} saved searches, {report.answers} answers, "
            f"{report.duplicate_pairs} duplicate pairs, {report.decisions} decisions and {report.media_files} "
            f"media files from {origin.location} to {destination.location}"
        )
        indexed = update_index(destination)  # the local-feature index is made anew: its codebook fits the target
        click.echo(f"indexed {indexed.indexed} records in {indexed.seconds:.1f} s")


@cli.command()
@catalog_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Worker processes; each searches on its own core.",
)
@click.option(
    "--max-upload-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=20.0,
    show_default=True,
    help="Largest photo upload accepted.",
)
@click.option("--root-path", default="", help="URL prefix when served behind a reverse proxy, e.g. /platemark.")
@click.option(
    "--preload/--no-preload",
    default=True,
    show_default=True,
    help="Read the word index into the OS file cache at start, in the background: the first searches of a "
    "large catalog are then as fast as later ones.",
)
def serve(
    catalog: str,
    media: Path | None,
    host: str,
    port: int,
    workers: int,
    max_upload_mb: float,
    root_path: str,
    preload: bool,
) -> None:
    """Serve the web app and the REST API (OpenAPI docs at /docs).

    Example: platemark serve --catalog ./catalog --host 127.0.0.1 --port 8000
    """
    import os

    import uvicorn

    from platemark.store import is_postgres_url, open_catalog
    from platemark.web.server import check_port_free, preload_in_background, raise_open_file_limit

    with open_catalog(catalog, media=media) as store:  # fail here, with a message, if there is no catalog
        shown = store.location
    check_settings()
    check_port_free(host, port)
    os.environ.update(
        PLATEMARK_CATALOG=catalog if is_postgres_url(catalog) else str(Path(catalog).resolve()),
        PLATEMARK_MAX_UPLOAD_MB=str(max_upload_mb),
        **({"PLATEMARK_MEDIA": str(media.resolve())} if media else {}),
    )
    # One thread per search; a single worker runs as many searches at once as there are cores.
    os.environ.setdefault("PLATEMARK_SEARCHES_PER_WORKER", str(max(1, (os.cpu_count() or 1) // workers)))
    open_files = raise_open_file_limit()
    click.echo(f"serving {shown} on http://{host}:{port}{root_path}/ with {workers} worker(s)", err=True)
    if preload:
        preload_in_background(catalog, media, echo=lambda line: click.echo(line, err=True))
    uvicorn.run(
        "platemark.web.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        root_path=root_path,
        http="platemark.web.guard:GuardedH11Protocol",
        # Connections (and requests) a worker holds at once; beyond it, 503 straight away.
        limit_concurrency=max(64, open_files // 2),
        access_log=False,
        log_level="info",
        log_config=_log_config(),
    )


def check_settings() -> None:
    """Read the PLATEMARK_* settings once here, so a wrong one stops `serve` with a message
    instead of failing in every worker."""
    from pydantic import ValidationError

    from platemark.settings import Settings

    try:
        Settings()
    except ValidationError as exc:
        problems = "; ".join(f"PLATEMARK_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(f"bad setting: {problems}") from None


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, plus platemark's request log (one line per request) in every worker."""
    from copy import deepcopy

    from uvicorn.config import LOGGING_CONFIG

    config = deepcopy(LOGGING_CONFIG)
    config["loggers"]["platemark"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("platemark-demo"),
    show_default=True,
    help="Where the demo collection, photos and catalog are written.",
)
@click.option(
    "--serve/--no-serve", "then_serve", default=True, show_default=True, help="Serve the demo catalog afterwards."
)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.pass_context
def demo(ctx: click.Context, workdir: Path, then_serve: bool, port: int) -> None:
    """Build a small catalog from scikit-image's sample images, photograph some, search them, serve it.

    Example: platemark demo --workdir /tmp/platemark-demo
    """
    from platemark.demo import run_demo

    catalog = run_demo(workdir, echo=click.echo)
    if then_serve:
        ctx.invoke(serve, catalog=str(catalog), port=port)
