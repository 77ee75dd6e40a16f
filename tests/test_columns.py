"""core/columns.py: display width and tables that fit a width."""

from peerpath.core.columns import display_width, fit_widths, format_table, truncate, wrap


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


def test_wrap_breaks_at_spaces_and_splits_only_a_word_longer_than_a_line():
    assert wrap("new leader: never observed", 12) == ["new leader:", "never", "observed"]
    assert wrap("register_checklists, register_programs", 10) == ["register_c", "hecklists,", "register_p", "rograms"]
    assert wrap("陳美玲陳美玲", 5) == ["陳美", "玲陳", "美玲"]  # 4 columns each: a third character needs 6
    assert wrap("", 5) == [""]
    # A text that fits is one line, its runs of spaces made one (the fit is judged after that).
    assert wrap("in training", 11) == ["in training"]
    assert wrap("in  training", 12) == ["in training"]
    assert wrap(" 2026-10-13", 11) == ["2026-10-13"]
    assert wrap("in training", 10) == ["in", "training"]


def test_the_last_column_wraps_under_itself_instead_of_being_cut():
    rows = [["P0025", "in 150 days", "new leader: never observed; first offering O0002 began 2026-11-01"],
            ["P0027", "today", "due"]]
    lines = format_table(rows, ["peer", "when", "why"], 40)
    assert lines == ["peer   when         why",
                     "P0025  in 150 days  new leader: never",
                     "                    observed; first",
                     "                    offering O0002 began",
                     "                    2026-11-01",
                     "P0027  today        due"]


def test_the_last_column_keeps_room_for_its_longest_word():
    rows = [["P0023", "Fatima Ito", "2026-11-11"]]
    lines = format_table(rows, ["peer", "name", "last activity"], 24)
    assert lines[-1].endswith("  2026-11-11") and "…" in lines[-1]  # the name is cut, the date kept whole
    assert lines == ["peer   name   last", "              activity", "P0023  Fati…  2026-11-11"]


def test_columns_of_short_words_such_as_dates_stay_whole_while_free_text_makes_room():
    headers = ["peer", "name", "program", "expires", "next step"]
    rows = [["P0023", "Fatima Rahman-Okonkwo", "peer_to_peer", "2026-12-13", "co-teach a course"],
            ["P0024", "Eli Hernandez", "connection", "2027-01-02", "observation"]]
    lines = format_table(rows, headers, 50)
    assert max(display_width(line) for line in lines) <= 50
    first, second = (next(line for line in lines if line.startswith(peer)) for peer in ("P0023", "P0024"))
    assert "2026-12-13" in first and "2027-01-02" in second
    assert "…" in first  # the name and program made the room


def test_when_short_word_columns_cannot_all_stay_whole_every_column_may_shrink():
    headers = ["a", "b", "c", "d"]
    rows = [["2026-12-13", "2026-12-14", "2026-12-15", "last"]]
    lines = format_table(rows, headers, 30)
    assert max(display_width(line) for line in lines) <= 30 and len(lines[1].split()) == 4
