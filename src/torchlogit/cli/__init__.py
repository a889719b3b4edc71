"""The command line. Imports flow one way: :mod:`.main` (parser, dispatch, exit codes) imports the
command modules (:mod:`.demo`, :mod:`.fit` then :mod:`.stream`, :mod:`.predict`, :mod:`.evaluate`);
``fit`` and ``stream`` choose the data's columns through :mod:`.columns`; all of them print through
:mod:`._output`, the only printer (lines, tables, the progress line, warnings).
"""
