"""Kpis: under construction."""

import streamlit as st

st.title("Kpis")
st.info("This page is being built.")
