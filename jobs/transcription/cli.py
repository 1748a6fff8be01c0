"""``digilabo transcribe``: recordings transcribed here, without the queue.
Loaded by the ``digilabo`` command only (``JobKind.cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from jobs.adapters import CommandHost


def register(app: typer.Typer, host: CommandHost) -> None:
    @app.command()
    def transcribe(
        audio: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
        out: Annotated[Path, typer.Option("--out", "-o", help="output folder")],
        fmt: Annotated[
            str, typer.Option("--format", help="comma list of txt,srt,vtt,json,docx")
        ] = "txt,srt,vtt,json,docx",
        glossary: Annotated[
            Path | None, typer.Option(exists=True, dir_okay=False, help="terms, one per line")
        ] = None,
        model_dir: Annotated[Path | None, typer.Option(help="a CTranslate2 Whisper folder")] = None,
        language: str = "ja",
        speakers: Annotated[
            str | None,
            typer.Option(help="label speakers: auto (count found from the voices) or the number of speakers"),
        ] = None,
        min_speakers: Annotated[
            int | None,
            typer.Option(help="label speakers, at least this many (the count is found from the voices)"),
        ] = None,
        max_speakers: Annotated[
            int | None,
            typer.Option(help="label speakers, at most this many (the count is found from the voices)"),
        ] = None,
    ) -> None:
        """Transcribe recordings here, without the queue: DIR/<audio stem>.<format>."""
        from jobs.errors import JobInputError
        from jobs.transcription.direct import read_glossary
        from jobs.transcription.kind import validate_params

        options = host.options("transcription", **({"whisper_model_dir": model_dir} if model_dir else {}))
        params: dict[str, Any] = {
            "language": language,
            "glossary": read_glossary(glossary) if glossary else [],
            **({"speakers": speaker_option(speakers)} if speakers is not None else {}),
            **({"min_speakers": min_speakers} if min_speakers is not None else {}),
            **({"max_speakers": max_speakers} if max_speakers is not None else {}),
        }
        try:  # once for all recordings: a bad count is the command's fault, not a file's
            validate_params(params)
        except JobInputError as exc:
            field = str(exc.details.get("field", "speakers")).replace("_", "-")
            raise typer.BadParameter(exc.message, param_hint=f"--{field}") from None
        formats = [f.strip() for f in fmt.split(",") if f.strip()]
        failed = transcribe_all(host, audio, out, formats, params, options)
        raise typer.Exit(1 if failed else 0)


def speaker_option(text: str) -> str | int:
    """``--speakers``: ``auto`` or a whole number (the kind checks its range)."""
    value = text.strip().lower()
    if value == "auto":
        return value
    if value.isdigit():
        return int(value)
    raise typer.BadParameter(f"auto or a number of speakers, not {text!r}", param_hint="--speakers")


def transcribe_all(
    host: CommandHost,
    audio: list[Path],
    out: Path,
    formats: list[str],
    params: dict[str, Any],
    options: Any,
) -> int:
    """Each recording with its own progress bar; returns how many failed."""
    from rich.progress import Progress

    from jobs.errors import JobInputError
    from jobs.transcription.direct import transcribe_file

    failed = 0
    with Progress(console=host.console) as bars:
        for path in audio:
            bar = bars.add_task(path.name, total=1.0)
            try:
                written = transcribe_file(
                    path,
                    out,
                    formats=formats,
                    params=params,
                    options=options,
                    progress=lambda f, m="", bar=bar, name=path.name: bars.update(
                        bar, completed=f, description=f"{name} {m}"
                    ),
                )
            except (JobInputError, ValueError) as exc:
                failed += 1
                bars.console.print(f"[red]{path.name}: {getattr(exc, 'message', exc)}[/red]")
                continue
            bars.update(bar, completed=1.0, description=path.name)
            for file in written:
                bars.console.print(f"  {file}")
    return failed
