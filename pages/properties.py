"""Properties: under construction."""

import streamlit as st

st.title("Properties")
st.info("This page is being built.")
