"""The studio's Streamlit layer: session and open project, cached readers, form builders, charts.

Pages (``pages/``) describe screens and call these helpers and the engine facade
(``asemic_core.project.Project``); ``asemic_core`` never imports this package.
"""
