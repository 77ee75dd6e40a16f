"""Core's reports as a plugin (named "reports", always enabled). Its hook imports core.reports,
and every module a report uses, only when the catalog is built, so loading plugins (which
`peerpath --help` does, to list plugins' commands) does not pay for them."""

from .hookspecs import hookimpl


@hookimpl
def register_reports(register):
    from .reports import REPORTS

    for report in REPORTS:
        register(report)
