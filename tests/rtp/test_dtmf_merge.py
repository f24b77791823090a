from ivr.rtp.dtmf_merge import DtmfMerger


def counted(reports: list[tuple[str, str, float]]) -> str:
    merger = DtmfMerger()
    return "".join(d for d, source, at in reports if merger.accept(d, source, at))  # type: ignore[arg-type]


def test_press_sent_as_rfc4733_and_info_counts_once_whichever_arrives_first():
    assert counted([("5", "rfc4733", 0.0), ("5", "info", 0.05)]) == "5"
    assert counted([("5", "info", 0.0), ("5", "rfc4733", 0.05)]) == "5"


def test_press_sent_as_rfc4733_with_inband_leak_counts_once():
    assert counted([("3", "inband", 0.0), ("3", "rfc4733", 0.02)]) == "3"
    assert counted([("3", "rfc4733", 0.0), ("3", "inband", 0.04)]) == "3"


def test_quick_repeats_sent_two_ways_count_each_press_once():
    reports = []
    for i in range(4):
        at = 0.25 * i
        reports += [("1", "rfc4733", at), ("1", "info", at + 0.03), ("1", "inband", at + 0.04)]
    assert counted(reports) == "1111"


def test_first_press_info_first_then_repeats_both_ways():
    reports = [("9", "info", 0.0), ("9", "rfc4733", 0.02)]
    reports += [("9", "info", 0.3), ("9", "rfc4733", 0.32)]
    assert counted(reports) == "99"


def test_genuine_repeats_via_one_method_count_twice():
    assert counted([("4", "rfc4733", 0.0), ("4", "rfc4733", 0.1)]) == "44"
    assert counted([("4", "info", 0.0), ("4", "info", 0.1)]) == "44"
    assert counted([("4", "inband", 0.0), ("4", "inband", 0.1)]) == "44"


def test_lower_priority_source_counts_again_once_the_better_one_has_gone_quiet():
    assert counted([("2", "rfc4733", 0.0), ("8", "info", 10.0)]) == "28"


def test_different_digits_from_different_sources_both_count():
    assert counted([("1", "inband", 0.0), ("2", "info", 0.1)]) == "12"


def test_inband_tones_are_ignored_while_the_phone_reports_keys_by_info():
    assert counted([("1", "info", 0.0), ("2", "inband", 0.1), ("3", "info", 0.5)]) == "13"
