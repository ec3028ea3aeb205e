"""The starter metric library, generated from role-tagged event tables.

Given event tables whose tags say which is the registration, which mark activity and
which carry payments (with a ``transaction_amount_column``), produce the properties
and KPIs every product team asks for first: activity, retention, revenue.
"""

from __future__ import annotations

from typing import Any

from asemic_core.config.models import EntityConfig, EventTable, Kpi, Property

Library = dict[str, dict[str, Any]]  # file name -> id -> model


def _prop(data: dict) -> Property:
    return Property.model_validate(data)


def _kpi(data: dict) -> Kpi:
    return Kpi.model_validate(data)


def registration_properties(events: dict[str, EventTable]) -> dict[str, Property]:
    props: dict[str, Property] = {}
    for table in events.values():
        if "registration_event" not in table.tags:
            continue
        for name in table.columns_tagged("registration_property"):
            column = table.columns[name]
            props.setdefault(name, _prop({
                "data_type": column.data_type.value,
                "label": column.label or name.replace("_", " ").capitalize(),
                "description": f"{name.replace('_', ' ').capitalize()} at registration",
                "can_group_by": True,
                "registration_property": {"source_column": name},
            }))
    return props


def activity_properties(active_days: int) -> dict[str, Property]:
    window = min(28, active_days)
    return {
        "dau_active": _prop({
            "data_type": "INTEGER", "label": "Active today",
            "description": "1 when the user has any activity event on the day, else 0",
            "event_property": {"source_event": "entity_activity", "select": "1", "aggregate_function": "none",
                               "default_value": 0},
        }),
        "days_active_last_7_days": _prop({
            "data_type": "INTEGER", "description": "Active days in the 7 days ending on the day",
            "sliding_window_property": {"window_function": "sum", "relative_days_from": -6, "relative_days_to": 0,
                                        "source_property": "dau_active"},
        }),
        f"days_active_last_{window}_days": _prop({
            "data_type": "INTEGER", "description": f"Active days in the {window} days ending on the day",
            "sliding_window_property": {"window_function": "sum", "relative_days_from": -(window - 1),
                                        "relative_days_to": 0, "source_property": "dau_active"},
        }),
        "wau_active": _prop({
            "data_type": "INTEGER", "label": "Active in the last 7 days",
            "description": "1 when the user was active on any of the 7 days ending on the day",
            "sliding_window_property": {"window_function": "max", "relative_days_from": -6, "relative_days_to": 0,
                                        "source_property": "dau_active"},
        }),
        "mau_active": _prop({
            "data_type": "INTEGER", "label": f"Active in the last {window} days",
            "description": f"1 when the user was active on any of the {window} days ending on the day",
            "sliding_window_property": {"window_function": "max", "relative_days_from": -(window - 1),
                                        "relative_days_to": 0, "source_property": "dau_active"},
        }),
        "days_active_previous_7_days": _prop({
            "data_type": "INTEGER", "description": "Active days in the 7 days before the day",
            "sliding_window_property": {"window_function": "sum", "relative_days_from": -7, "relative_days_to": -1,
                                        "source_property": "dau_active"},
        }),
        "mau_lost": _prop({
            "data_type": "INTEGER", "label": f"Left the {window}-day active base today",
            "description": f"1 on the day the user's last activity becomes {window} days old",
            "computed_property": {"select": f"IF({{days_since_last_active}} = {window}, 1, 0)"},
        }),
        "is_churned": _prop({
            "data_type": "BOOLEAN", "can_group_by": True,
            "description": "No activity in the last 7 days",
            "computed_property": {"select": "COALESCE({days_since_last_active}, 9999) >= 7"},
        }),
        "is_reactivated": _prop({
            "data_type": "INTEGER", "label": "Reactivated today",
            "description": "1 when the user returns today after 7 or more inactive days",
            "computed_property": {
                "select": "IF({dau_active} = 1 AND {cohort_day} > 7 AND COALESCE({days_active_previous_7_days}, 0) = 0, 1, 0)"},
        }),
        "activity_segment": _prop({
            "data_type": "STRING", "can_group_by": True,
            "description": "Engagement over the last 7 days",
            "computed_property": {
                "select": "{days_active_last_7_days}",
                "value_mappings": [
                    {"constant": 0, "new_value": "dormant"},
                    {"range": {"from": 1, "to": 2}, "new_value": "casual"},
                    {"range": {"from": 3, "to": 5}, "new_value": "regular"},
                    {"range": {"from": 6}, "new_value": "core"},
                ],
            },
        }),
    }


def revenue_properties(event_id: str, amount_column: str) -> dict[str, Property]:
    return {
        "revenue_on_day": _prop({
            "data_type": "NUMBER", "label": "Revenue on day", "description": "Sum of payments on the day",
            "event_property": {"source_event": event_id, "select": f"{{{amount_column}}}", "aggregate_function": "sum",
                               "default_value": 0},
        }),
        "purchases_on_day": _prop({
            "data_type": "INTEGER", "description": "Number of payments on the day",
            "event_property": {"source_event": event_id, "select": f"{{{amount_column}}}", "aggregate_function": "count",
                               "default_value": 0},
        }),
        "payers_on_day": _prop({
            "data_type": "INTEGER", "label": "Payer today", "description": "1 when the user paid on the day, else 0",
            "event_property": {"source_event": event_id, "select": "1", "aggregate_function": "none", "default_value": 0},
        }),
        "revenue_last_28_days": _prop({
            "data_type": "NUMBER", "description": "Revenue in the 28 days ending on the day",
            "sliding_window_property": {"window_function": "sum", "relative_days_from": -27, "relative_days_to": 0,
                                        "source_property": "revenue_on_day"},
        }),
        "lifetime_revenue": _prop({
            "data_type": "NUMBER", "description": "All revenue up to and including the day",
            "lifetime_property": {"merge_function": "sum", "source_property": "revenue_on_day"},
        }),
        "is_payer_lifetime": _prop({
            "data_type": "INTEGER", "label": "Payer (lifetime)", "can_group_by": True,
            "description": "1 once the user has paid at least once",
            "lifetime_property": {"merge_function": "max", "source_property": "payers_on_day"},
        }),
        "first_purchase_date": _prop({
            "data_type": "DATE", "description": "Date of the user's first payment",
            "lifetime_property": {"merge_function": "first_value", "source_event_property": {
                "source_event": event_id, "select": "{date}", "aggregate_function": "min"}},
        }),
        "payment_segment": _prop({
            "data_type": "STRING", "can_group_by": True,
            "description": "Spend tier by lifetime revenue (USD)",
            "computed_property": {
                "select": "COALESCE({lifetime_revenue}, 0)",
                "value_mappings": [
                    {"constant": 0, "new_value": "non_payer"},
                    {"range": {"to": 20}, "new_value": "minnow"},
                    {"range": {"to": 100}, "new_value": "dolphin"},
                    {"range": {"from": 100}, "new_value": "whale"},
                ],
            },
        }),
    }


PERCENT = {"symbol": "%", "is_prefix": False}
DOLLAR = {"symbol": "$", "is_prefix": True}


def activity_kpis(window: int) -> dict[str, Kpi]:
    return {
        "active_users": _kpi({
            "label": "Active users", "description": "Users with activity on the day (date axis) or cohort day",
            "select": "SUM({property.dau_active})",
            "x_axis": {"date": {"total_function": "avg"}, "cohort_day": {"total_function": "avg"}},
        }),
        "dau": _kpi({"label": "DAU", "description": "Daily active users", "select": "SUM({property.dau_active})",
                     "x_axis": {"date": {"total_function": "avg"}}}),
        "wau": _kpi({"label": "WAU", "description": "Users active in the 7 days ending on the day",
                     "select": "SUM({property.wau_active})", "x_axis": {"date": {"total_function": "avg"}}}),
        "mau": _kpi({"label": "MAU", "description": f"Users active in the {window} days ending on the day",
                     "select": "SUM({property.mau_active})", "x_axis": {"date": {"total_function": "avg"}}}),
        "stickiness": _kpi({"label": "Stickiness (DAU/MAU)", "select": "SAFE_DIVIDE({kpi.dau}, {kpi.mau}) * 100",
                            "x_axis": {"date": {"total_function": "avg"}}, "unit": PERCENT}),
        "mau_lost": _kpi({"label": "MAU lost", "description": f"Users whose last activity became {window} days old",
                          "select": "SUM({property.mau_lost})", "x_axis": {"date": {}}}),
        "reactivated_users": _kpi({"label": "Reactivated users", "select": "SUM({property.is_reactivated})",
                                   "x_axis": {"date": {}}}),
        "registrations": _kpi({"label": "Registrations", "description": "New users",
                               "select": "SUM({property.cohort_size})", "where": "{property.cohort_day} = 0",
                               "x_axis": {"date": {}}}),
        "retention": _kpi({
            "label": "Retention", "description": "Share of the cohort active on each cohort day",
            "select": "SAFE_DIVIDE(SUM({property.dau_active}), SUM({property.cohort_size})) * 100",
            "x_axis": {"cohort_day": {"total_function": "avg"}}, "unit": PERCENT,
        }),
        "retention_d{}": _kpi({
            "label": "Retention D{}", "description": "Share of users registered {} days earlier who are active",
            "select": "SAFE_DIVIDE(SUM({property.dau_active}), SUM({property.cohort_size})) * 100",
            "where": "{property.cohort_day} = {}", "template": "cohort_day",
            "x_axis": {"date": {"total_function": "avg"}}, "unit": PERCENT,
        }),
    }


def revenue_kpis() -> dict[str, Kpi]:
    return {
        "revenue": _kpi({"label": "Revenue", "select": "SUM({property.revenue_on_day})",
                         "x_axis": {"date": {}, "cohort_day": {}}, "unit": DOLLAR}),
        "arpdau": _kpi({"label": "ARPDAU", "description": "Revenue per daily active user",
                        "select": "SAFE_DIVIDE(SUM({property.revenue_on_day}), SUM({property.dau_active}))",
                        "x_axis": {"date": {"total_function": "avg"}}, "unit": DOLLAR}),
        "arppu": _kpi({"label": "ARPPU", "description": "Revenue per paying user",
                       "select": "SAFE_DIVIDE(SUM({property.revenue_on_day}), SUM({property.payers_on_day}))",
                       "x_axis": {"date": {"total_function": "avg"}}, "unit": DOLLAR}),
        "daily_payers": _kpi({"label": "Daily payers", "select": "SUM({property.payers_on_day})",
                              "x_axis": {"date": {"total_function": "avg"}}}),
        "payer_conversion": _kpi({
            "label": "Payer conversion", "description": "Share of daily active users who paid",
            "select": "SAFE_DIVIDE({kpi.daily_payers}, {kpi.dau}) * 100",
            "x_axis": {"date": {"total_function": "avg"}}, "unit": PERCENT}),
        "ltv": _kpi({
            "label": "LTV", "description": "Cumulative revenue per cohort user",
            "select": "SAFE_DIVIDE(SUM({property.lifetime_revenue}), SUM({property.cohort_size}))",
            "x_axis": {"cohort_day": {"total_function": "max"}}, "unit": DOLLAR}),
    }


def starter_library(events: dict[str, EventTable], entity: EntityConfig) -> tuple[Library, Library]:
    """Property files and KPI files (file stem -> id -> model) for the tagged tables."""
    window = min(28, entity.active_days)
    properties: Library = {}
    kpis: Library = {"activity": activity_kpis(window)}
    registration = registration_properties(events)
    if registration:
        properties["registration"] = registration
    properties["activity"] = activity_properties(entity.active_days)
    for event_id, table in events.items():
        amounts = table.columns_tagged("transaction_amount_column")
        if "payment_transaction_event" in table.tags and amounts:
            properties["revenue"] = revenue_properties(event_id, amounts[0])
            kpis["revenue"] = revenue_kpis()
            break
    return properties, kpis
