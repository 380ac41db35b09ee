def test_home_renders(client):
    resp = client.get("/")
    assert resp.status_code == 200


def test_unknown_page_is_friendly_404(client):
    resp = client.get("/no-such-page")
    assert resp.status_code == 404
