from sleuth.evals.tables import Table, change_text, table_markdown


def test_change_text_signs_both_the_change_and_its_interval_in_points() -> None:
    assert change_text(0.012, -0.03, 0.051) == "+1.2 [-3.0, +5.1]"
    assert change_text(-0.5, -0.75, -0.25) == "-50.0 [-75.0, -25.0]"
    assert change_text(0.0) == "+0.0"
    assert change_text(0.02, None, 0.05) == "+2.0"  # an incomplete interval is left out
    assert change_text(None, -0.1, 0.1) == "–"
    assert change_text(0.5, 0.25, 0.75, scale=1.0) == "+0.5 [+0.2, +0.8]"


def test_table_markdown_writes_intro_header_rule_and_rows() -> None:
    table = Table("Two runs.", ["Method", "F1"], [["a", "1.0"], ["b", "2.0"]])
    assert table_markdown(table) == ["Two runs.", "", "| Method | F1 |", "|---|---|", "| a | 1.0 |", "| b | 2.0 |"]
