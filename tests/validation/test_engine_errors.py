"""Compile errors lead with what they mean for the config, and keep the engine's words."""

from __future__ import annotations

import pytest

from asemic_core.validation.engine_errors import plain_compile_error

BINDER = ("Binder Error: No function matches the given name and argument types '{call}'. You might need to add "
          "explicit type casts.")


@pytest.mark.parametrize("call, lead", [
    ("sum(VARCHAR)", "SUM does not take STRING values"),
    ("lower(DOUBLE)", "LOWER does not take NUMBER values"),
    ("date_diff(VARCHAR, DATE, BIGINT)", "DATE_DIFF does not take STRING and DATE and INTEGER values"),
    ("avg(TIMESTAMP WITH TIME ZONE)", "AVG does not take DATETIME values"),
])
def test_a_function_given_the_wrong_type_is_named_in_config_types(call, lead) -> None:
    error = BINDER.format(call=call)
    assert plain_compile_error(error) == f"{lead} ({error})"


@pytest.mark.parametrize("error", ['Binder Error: Referenced column "active" not found in FROM clause',
                                   BINDER.format(call="sum(DECIMAL(18,3))"), BINDER.format(call="now()")])
def test_other_errors_stay_as_the_engine_wrote_them(error) -> None:
    assert plain_compile_error(error) == error
