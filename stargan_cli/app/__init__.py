"""``stargan app``: a local web page to translate photos, over the same Translator as the CLI.

- :mod:`.engine`: the page's operations (uploads, estimates, translations, the all-targets
  strip) as JSON answers; no web framework needed. The photo work is :mod:`stargan_cli.photos`
  and the model work :class:`~stargan_cli.translate.Translator`, as for the command line;
- :mod:`.models`: the models the page offers; :mod:`.workspace`: the temporary folder of
  results; :mod:`.errors`: the errors answered with 404 and 413;
- :mod:`.server`: the Starlette application (needs the ``app`` extra);
- ``static/``: the page itself, one HTML file with plain JavaScript and CSS.

Starlette + uvicorn rather than Gradio: about 5 MB of dependencies instead of well over a hundred,
nothing fetched from the internet by the page, and full control of what is written and served
(one temporary folder, files looked up by random name only).
"""

from __future__ import annotations

INSTALL_HINT = 'stargan app needs the app extra: pip install "stargan[app]" (or pip install -e ".[app]" in a checkout)'


def missing_dependency() -> str | None:
    """The name of the first missing package the server needs, or None when all are there."""
    import importlib.util

    for module in ("starlette", "uvicorn"):
        if importlib.util.find_spec(module) is None:
            return module
    return None
