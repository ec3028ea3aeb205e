"""Editors of properties and KPIs: forms, choices, wording, previews and charts
(everything the Properties and KPIs pages need that is not Streamlit)."""
