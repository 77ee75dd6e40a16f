"""Errors a user can act on: the CLI shows each as one line and exits non-zero."""


class PeerpathError(Exception):
    """A refusal or failure explained in one line; nothing was stored."""


class StoreError(PeerpathError):
    """The database file cannot be read, locked or written."""


class UnreadableDocument(StoreError):
    """A stored document that cannot be rebuilt; the store names the file that holds it."""

    def __init__(self, message, document):
        self.document = document
        super().__init__(message)


class ValidationError(PeerpathError):
    """A value or change was refused before anything was stored."""


class NotFound(ValidationError):
    """A record asked for by id that this database does not hold (the web app answers 404)."""


class OverridableError(ValidationError):
    """A pathway rule refused a record, and a trainer may override it (`--force --reason`)."""


OVERRIDE_HINT = "a trainer may override with --force --reason TEXT"


class PluginError(PeerpathError):
    """A plugin failed; the message names the plugin and the hook."""

    def __init__(self, plugin, hook, error):
        self.plugin = plugin
        self.hook = hook
        self.error = error
        super().__init__(f"plugin '{plugin}' failed in {hook}: {type(error).__name__}: {error}")
