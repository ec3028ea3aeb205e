"""Schema: under construction."""

import streamlit as st

st.title("Schema")
st.info("This page is being built.")
