import pytest
from hypothesis import given, strategies as st

from kirz.hostlist import HostListError, compress, expand


@pytest.mark.parametrize(
    "text, hosts",
    [
        ("gpu[001-004,010],cpu07", ["gpu001", "gpu002", "gpu003", "gpu004", "gpu010", "cpu07"]),
        ("d13n[03,05,07-08,16]", ["d13n03", "d13n05", "d13n07", "d13n08", "d13n16"]),
        ("cpn-f13-03-[01-02],cpn-f13-04-[01-02]", ["cpn-f13-03-01", "cpn-f13-03-02", "cpn-f13-04-01", "cpn-f13-04-02"]),
        ("r[1-2]n[1-2]", ["r1n1", "r1n2", "r2n1", "r2n2"]),
        ("node[8-11]", ["node8", "node9", "node10", "node11"]),
        ("None assigned", []),
        ("", []),
    ],
)
def test_expand(text, hosts):
    assert expand(text) == hosts


@pytest.mark.parametrize("bad", ["gpu[001-", "gpu]1[", "gpu[a-b]", "gpu[5-1]", "n[[1]]"])
def test_bad_host_lists_raise(bad):
    with pytest.raises(HostListError):
        expand(bad)


@given(
    st.dictionaries(
        st.sampled_from(["gpu", "cpu", "node-a", "r1n"]),
        st.tuples(st.integers(1, 4), st.sets(st.integers(0, 999), min_size=1, max_size=30)),
        min_size=1,
    )
)
def test_compress_expand_round_trip(spec):
    hosts = [f"{p}{str(n).zfill(w)}" for p, (w, nums) in spec.items() for n in sorted(nums) if len(str(n)) <= w]
    hosts = list(dict.fromkeys(hosts))
    if not hosts:
        return
    assert sorted(expand(compress(hosts))) == sorted(hosts)
