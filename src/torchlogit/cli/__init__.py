"""The command line: parser, dispatch and exit codes (:mod:`.main`); ``_output`` is the only printer."""
