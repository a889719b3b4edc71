"""The command line. Imports flow one way: :mod:`.main` (parser, dispatch, exit codes) imports the
command modules (:mod:`.demo`, :mod:`.fit` then :mod:`.stream`, :mod:`.predict`, :mod:`.evaluate`),
which import :mod:`._output`, the only printer.
"""
