"""The push's screen (sync.protocol): the expressions that find what a JSON text holds outside its strings."""
import random

from sync import protocol


def _skeleton(text: str) -> str:
    """Reference: each string (or the unclosed rest of the text) emptied, one character at a time."""
    out, i = [], 0
    while i < len(text):
        if text[i] != '"':
            out.append(text[i])
            i += 1
            continue
        i += 1
        while i < len(text) and text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        i += 1
        out.append('""')
    return "".join(out)


def test_strings_emptied_as_a_character_by_character_scan_does():
    rnd = random.Random(14)
    alphabet = ['"', "\\", "a", "[", "{", "}", "\n", "中", "1", "e"]
    samples = ['x"abc\\', '"a\\"', '"\\', '"abc', '"a"b"c\\""', '["\\\\"]', '{"k": "v\\"[", "n": [1, 2]}']
    samples += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 16))) for _ in range(20000)]
    for text in samples:
        assert protocol.JSON_STRING.sub('""', text) == _skeleton(text), repr(text)


def test_strings_emptied_by_splitting_at_quotes_as_the_expression_does():
    rnd = random.Random(15)
    alphabet = ['"', "\\", "a", "u", "[", "{", "}", "\n", "中", "1", "e"]
    samples = ['x"abc\\', '"a\\"', '"\\', '"abc', '"a"b"c\\""', '["\\\\"]', '{"k": "v\\"[", "n": [1, 2]}', "", '"', '""',
               '{"note": "\\u73b0\\n[", "n": [1, {"a": "]"}]}']
    samples += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 20))) for _ in range(50000)]
    for text in samples:
        assert protocol.strings_emptied(text) == _skeleton(text), repr(text)


def test_suspect_numbers_outside_strings_only():
    def suspect(text):
        return bool(protocol.SUSPECT_NUMBER.search(protocol.JSON_STRING.sub('""', text)))

    assert suspect('{"n": 12345678901234567}')                 # 17 digits: beyond 2**53
    assert suspect('{"n": 1234567890123456}')                  # 16 digits
    assert not suspect('{"n": 123456789012345}')               # 15 digits
    assert suspect('{"n": 1e5}') and suspect('{"n": 2E-3}')
    assert suspect('[NaN]') and suspect('[-Infinity]')
    assert not suspect('{"sha": "3e4f1234567890123456789", "ok": true, "no": false}')


def test_a_plain_push_is_decoded_fast_and_not_screened():
    body = '{"client_id": "c", "mutations": [{"id": 1, "name": "section.set", "args": {"note": "第3户\\"正常\\"", ' \
           '"checked": true, "n": 12}, "device_time": "2026-04-08T09:30:00+08:00"}]}'
    value, suspect = protocol.loads(body)
    assert suspect is False
    assert value["mutations"][0]["args"]["note"] == '第3户"正常"'
    assert protocol.loads('{"a": [1e400]}')[1] is True
