import io

import numpy as np
import pytest
from matplotlib.image import imread

from hardsample.labeling import make_app, read_labels, write_labels
from hardsample.labeling.app import shortcut_keys
from hardsample.labeling._display import image_layout, sample_png, sample_values

from .clients import client

PENDING = [5, 17, 42]


@pytest.fixture
def pool():
    return np.random.RandomState(0).rand(50, 8, 8).astype(np.float32)


@pytest.fixture
def labels_path(tmp_path):
    return tmp_path / "labels.csv"


def _post(http, labels, **kwargs):
    return http.post("/api/labels", json={"labels": labels}, **kwargs)


def test_page_is_self_contained(pool, labels_path):
    response = client(make_app(pool, PENDING, range(10), labels_path)).get("/")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    html = response.text
    assert "hardsample · labeling" in html and 'id="progress"' in html
    # nothing is loaded from outside: no external script, style sheet, image or font
    assert "<link" not in html and "src=\"http" not in html and "url(" not in html
    assert "@import" not in html


def test_batch_lists_pending_classes_keys_and_saved_labels(pool, labels_path):
    write_labels(labels_path, [900, 17], [2, 1])       # 900: an earlier sitting's
    batch = client(make_app(pool, np.array(PENDING), np.arange(3), labels_path)).get(
        "/api/batch").json()
    # the pending sample already saved is shown as answered; 900 is not pending
    assert batch == {"pending": PENDING, "classes": [0, 1, 2], "keys": ["0", "1", "2"],
                     "labels": {"17": 1}, "kind": "image", "labels_path": str(labels_path)}


def test_saved_label_of_a_pending_sample_outside_the_classes_is_refused(pool, labels_path):
    write_labels(labels_path, [17], [4])
    with pytest.raises(ValueError, match="sample 17 is labeled '4', which is not one of"):
        make_app(pool, PENDING, [0, 1, 2], labels_path)


def test_sample_images(pool, labels_path):
    http = client(make_app(pool, PENDING, range(10), labels_path))
    response = http.get("/sample/17.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = imread(io.BytesIO(response.content))
    assert image.shape[:2] == (8, 8)
    # gray levels follow the sample: its brightest pixel is white, its darkest black
    gray = image[..., 0]
    assert gray.flat[pool[17].argmax()] == 1.0 and gray.flat[pool[17].argmin()] == 0.0


@pytest.mark.parametrize("status_path", ["/sample/6.png", "/sample/6.json", "/sample/999.png"])
def test_sample_outside_the_pending_batch_is_refused(pool, labels_path, status_path):
    response = client(make_app(pool, PENDING, range(10), labels_path)).get(status_path)
    assert response.status_code == 404
    assert "not in the pending batch" in response.json()["error"]


def test_tabular_pool_serves_values(labels_path):
    pool = np.array([[0.5, np.nan, 1e6], [1, 2, 3]], dtype=np.float64)
    http = client(make_app(pool, [0], ["a", "b"], labels_path))
    assert http.get("/api/batch").json()["kind"] == "table"
    assert http.get("/sample/0.json").json() == {"index": 0, "values": ["0.5", "nan", "1e+06"]}
    assert http.get("/sample/0.png").status_code == 404


def test_requests_from_outside_the_loopback_are_refused(pool, labels_path):
    app = make_app(pool, PENDING, range(10), labels_path)
    outside = client(app, host="10.1.2.3")
    for response in (outside.get("/"), outside.get("/api/batch"), outside.get("/sample/5.png"),
                     _post(outside, {"5": 1})):
        assert response.status_code == 403
        assert "'10.1.2.3'" in response.json()["error"]
    assert not labels_path.exists()
    for host in ("::1", "::ffff:127.0.0.1", "127.0.0.1"):
        assert client(app, host=host).get("/api/batch").status_code == 200
    assert client(app, host="testclient").get("/").status_code == 403


def test_requests_addressed_to_another_host_name_are_refused(pool, labels_path):
    http = client(make_app(pool, PENDING, range(10), labels_path))
    response = http.get("/api/batch", headers={"host": "attacker.example:8765"})
    assert response.status_code == 403 and "'attacker.example'" in response.json()["error"]
    for host in ("localhost:8765", "[::1]:8765", "127.0.0.1"):
        assert http.get("/api/batch", headers={"host": host}).status_code == 200


def test_save_merges_with_the_labels_file(pool, labels_path):
    write_labels(labels_path, [900, 5], [2, 1])
    summaries = []
    http = client(make_app(pool, PENDING, range(10), labels_path, on_save=summaries.append))
    response = _post(http, {"5": None, "17": 3, "42": 0})
    assert response.status_code == 200
    assert response.json() == {"path": str(labels_path), "in_file": 3, "labeled": 2,
                               "pending": 3}
    assert summaries == [response.json()]
    indices, labels = read_labels(labels_path)
    assert dict(zip(indices.tolist(), labels.tolist())) == {17: 3, 42: 0, 900: 2}
    # a second sitting's save accumulates
    assert _post(http, {"5": 9}).status_code == 200
    indices, labels = read_labels(labels_path)
    assert dict(zip(indices.tolist(), labels.tolist())) == {5: 9, 17: 3, 42: 0, 900: 2}


@pytest.mark.parametrize("labels, message", [
    ({"6": 1}, "sample 6 is not in the pending batch"),
    ({"5": 1, "1000": 1}, "sample 1000 is not in the pending batch"),
    ({"-5": 1}, "'-5' is not a pool index"),
    ({"5": 10}, "label 10 of sample 5 is not one of the classes"),
    ({"5": "3"}, "label '3' of sample 5 is not one of the classes"),
    ({"5": True}, "label True of sample 5 is not one of the classes"),
    ({"5": 3.0}, "label 3.0 of sample 5 is not one of the classes"),
])
def test_save_refuses_bad_answers_and_writes_nothing(pool, labels_path, labels, message):
    write_labels(labels_path, [900], [2])
    before = labels_path.read_text()
    response = _post(client(make_app(pool, PENDING, range(10), labels_path)), labels)
    assert response.status_code == 400 and message in response.json()["error"]
    assert labels_path.read_text() == before


def test_save_refuses_malformed_requests(pool, labels_path):
    http = client(make_app(pool, PENDING, range(10), labels_path))
    response = http.post("/api/labels", content=b'{"labels": {"5": 1}}',
                         headers={"content-type": "text/plain"})
    assert response.status_code == 415
    response = http.post("/api/labels", content=b"{not json",
                         headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
    for body in ([1, 2], {"labels": [1]}, {}):
        response = http.post("/api/labels", json=body)
        assert response.status_code == 400 and '{"labels"' in response.json()["error"]
    assert http.get("/api/labels").status_code == 405
    assert http.get("/nowhere").json() == {"error": "no such page: /nowhere"}
    assert not labels_path.exists()


def test_save_reports_a_labels_file_broken_since_start(pool, labels_path):
    http = client(make_app(pool, PENDING, range(10), labels_path))
    labels_path.write_text("not a labels file\n")
    response = _post(http, {"5": 1})
    assert response.status_code == 409 and "line 1" in response.json()["error"]
    assert labels_path.read_text() == "not a labels file\n"


def test_string_classes(pool, labels_path):
    http = client(make_app(pool, PENDING, np.array(["cat", "dog"]), labels_path))
    assert http.get("/api/batch").json()["classes"] == ["cat", "dog"]
    assert _post(http, {"5": "dog"}).status_code == 200
    assert _post(http, {"5": "cow"}).status_code == 400
    assert labels_path.read_text() == "index,label\n5,dog\n"


@pytest.mark.parametrize("kwargs, message", [
    (dict(pending=[]), "nothing to label"),
    (dict(pending=[1, 50]), "must lie in \\[0, 50\\)"),
    (dict(pending=[-1]), "must lie in"),
    (dict(pending=[1, 1]), "twice"),
    (dict(pending=[1.0]), "integer pool indices"),
    (dict(classes=[]), "non-empty"),
    (dict(classes=[1, "1"]), "distinct"),
    (dict(classes=[True, False]), "integers, numbers or strings"),
    (dict(classes=[0.0, np.nan]), "finite"),
    (dict(classes=["a", " "]), "empty strings"),
    (dict(image_shape=(4, 4)), "holds 16 values"),
    (dict(image_shape=(8, 4, 2)), "height, width"),
])
def test_make_app_validates_its_arguments(pool, labels_path, kwargs, message):
    arguments = dict(pending=PENDING, classes=range(10), image_shape=None)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        make_app(pool, labels_path=labels_path, **arguments)


def test_make_app_refuses_a_pool_without_samples_axis(labels_path):
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        make_app(np.zeros(5), [0], [0, 1], labels_path)


def test_shortcut_keys_skip_undo_and_save():
    keys = shortcut_keys(36)
    assert keys[:10] == list("0123456789") and keys[10:13] == ["a", "b", "c"]
    assert "s" not in keys and "u" not in keys
    assert len(set(keys[:34])) == 34 and keys[34:] == [None, None]


@pytest.mark.parametrize("sample_shape, image_shape, layout", [
    ((64,), None, None),
    ((64,), (8, 8), ((8, 8), False)),
    ((28, 28), None, ((28, 28), False)),
    ((1, 28, 28), None, ((1, 28, 28), True)),
    ((3, 32, 32), None, ((3, 32, 32), True)),
    ((32, 32, 3), None, ((32, 32, 3), False)),
    ((3072,), (32, 32, 3), ((32, 32, 3), False)),
])
def test_image_layout(sample_shape, image_shape, layout):
    assert image_layout(sample_shape, image_shape) == layout


def test_image_layout_refuses_what_is_neither_image_nor_row():
    with pytest.raises(ValueError, match="give image_shape"):
        image_layout((5, 6, 7))
    with pytest.raises(ValueError, match="give image_shape"):
        image_layout((2, 3, 4, 5))


@pytest.mark.parametrize("sample, layout, shape", [
    (np.arange(12.0).reshape(3, 2, 2), ((3, 2, 2), True), (2, 2, 4)),        # RGB, scaled
    (np.linspace(0, 1, 12).reshape(2, 2, 3), ((2, 2, 3), False), (2, 2, 4)),
    (np.arange(6.0).reshape(1, 2, 3), ((1, 2, 3), True), (2, 3, 4)),          # gray
    (np.full((2, 3), np.nan), ((2, 3), False), (2, 3, 4)),
])
def test_sample_png_shapes(sample, layout, shape):
    assert imread(io.BytesIO(sample_png(sample, layout))).shape == shape


def test_colour_images_keep_their_channels():
    sample = np.zeros((3, 2, 2))
    sample[0] = 1.0                                      # pure red, channels first
    image = imread(io.BytesIO(sample_png(sample, ((3, 2, 2), True))))
    np.testing.assert_array_equal(image[..., :3].reshape(-1, 3), [[1, 0, 0]] * 4)


def test_sample_values_formats():
    assert sample_values(np.array([1, 2.5, np.inf])) == ["1", "2.5", "inf"]
