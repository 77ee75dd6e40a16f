"""Core's own plugins, always enabled: its step kinds (named "step_kinds") and its reports
("reports"). Each hook imports the module defining them when the catalog is built, so loading
the plugins (which `peerpath --help` does, to list plugins' commands) pays for neither."""

from .hookspecs import hookimpl


class StepKinds:
    @hookimpl
    def register_step_kinds(self, register):
        from .step_kinds import KINDS

        for kind in KINDS:
            register(kind)


class Reports:
    @hookimpl
    def register_reports(self, register):
        from .reports import REPORTS

        for report in REPORTS:
            register(report)
