"""Microsoft Teams. The Teams SDK, when imported, loads every `.env` file it finds from the working directory up
to `/` into the process environment (its own CLIENT_SECRET, CLOUD, DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS…).
It is imported here first, with python-dotenv's own switch off, so only improvebot's settings apply."""

import os


def _import_the_sdk_without_its_dotenv() -> None:
    previous = os.environ.get("PYTHON_DOTENV_DISABLED")
    os.environ["PYTHON_DOTENV_DISABLED"] = "1"
    try:
        import microsoft_teams.apps  # noqa: F401
    finally:
        if previous is None:
            os.environ.pop("PYTHON_DOTENV_DISABLED", None)
        else:
            os.environ["PYTHON_DOTENV_DISABLED"] = previous


_import_the_sdk_without_its_dotenv()
