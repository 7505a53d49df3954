"""Dashboard pages: Streamlit scripts run by `dashboards/app.py` through `st.navigation`."""
