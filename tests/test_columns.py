"""core/columns.py: display width and tables that fit a width."""

from peerpath.core.columns import display_width, fit_widths, format_table, truncate


def test_wide_characters_count_two_columns_and_combining_marks_none():
    assert display_width("Ana") == 3
    assert display_width("陳美玲") == 6
    assert display_width("Ｆｕｌｌ") == 8  # fullwidth forms
    assert display_width("Jose\u0301") == 4  # e + combining acute accent
    assert display_width("") == 0


def test_truncate_ends_in_an_ellipsis_and_never_splits_a_character():
    assert truncate("Maria Lopez", 20) == "Maria Lopez"
    assert truncate("Maria Lopez", 6) == "Maria…"
    assert truncate("陳美玲", 4) == "陳…"  # 美 would need columns 3 and 4, the ellipsis a fifth
    assert truncate("Jose\u0301 Nun\u0303ez", 5) == "Jose\u0301…"  # the accent stays with its e
    assert all(display_width(truncate("陳美玲Ana", width)) <= width for width in range(1, 12))


def test_fit_narrows_the_widest_column_first_and_never_drops_one():
    assert fit_widths([5, 40, 10], 80) == [5, 40, 10]
    assert fit_widths([5, 40, 10], 40) == [5, 21, 10]  # 5 + 21 + 10 and two gaps of 2
    assert fit_widths([30, 30, 4], 40) == [16, 16, 4]  # the two widest narrowed in turn
    assert fit_widths([10, 10, 10], 5) == [3, 3, 3]  # cannot fit: as narrow as allowed, all kept


def test_a_table_of_wide_and_combining_names_stays_aligned_within_the_limit():
    rows = [["P1", "陳美玲" * 8, "Cicero"], ["P2", "Jose\u0301 Nu\u0301n\u0303ez", "台北"], ["P3", "Ana", None]]
    lines = format_table(rows, ["id", "name", "community"], 40)
    assert max(display_width(line) for line in lines) <= 40
    starts = {display_width(line[:line.rindex(last)]) for line, last in zip(lines, ["community", "Cicero", "台北"])}
    assert len(starts) == 1
    assert lines[1].split()[1].endswith("…") and "Jose\u0301 Nu\u0301n\u0303ez" in lines[2]
    assert lines[3].rstrip() == lines[3] and lines[3].startswith("P3  Ana")
