from radiusd.codec.codes import Code, code_name


def test_code_names_follow_rfc_spelling() -> None:
    assert code_name(Code.ACCESS_REQUEST) == "Access-Request"
    assert code_name(Code.COA_NAK) == "CoA-NAK"
    assert code_name(200) == "Code-200"
