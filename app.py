"""The asemic studio: a Streamlit router over the engine facade.

Opens the project in $ASEMIC_PROJECT, or creates the demo project on first start.
"""

from __future__ import annotations

import streamlit as st

from asemic_core.app_support import open_project

st.set_page_config(page_title="asemic", page_icon=":material/insights:", layout="wide")

project = open_project()
pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
]
st.navigation(pages).run()
