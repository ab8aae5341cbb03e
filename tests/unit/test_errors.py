from peerwork import errors


def test_every_error_code_maps_back_to_its_class() -> None:
    seen: dict[str, type[errors.PeerworkError]] = {}
    pending = [errors.PeerworkError]
    while pending:
        cls = pending.pop()
        assert cls.code not in seen, f"{cls} and {seen.get(cls.code)} share code {cls.code}"
        seen[cls.code] = cls
        pending.extend(cls.__subclasses__())
        assert errors.error_class(cls.code) is cls
    assert errors.error_class("no-such-code") is errors.PeerworkError
