"""The artifact store: content addressing on local disk, file:// and memory://, and refused loads."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import fsspec
import pytest
from sqlalchemy import select

from signoff.adapters.artifacts import ArtifactStore, digest_of, fetch
from signoff.adapters.db.tables import DecisionRow
from signoff.bootstrap import Context
from signoff.domain import events
from signoff.errors import ArtifactMismatch, NotFound
from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import unique
from tests.fixtures.models import fit_classifier, save_joblib


def make_dir(root: Path, files: dict[str, bytes]) -> Path:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return root


def local_path(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


class TestStoringArtifacts:
    def test_a_file_is_stored_under_its_sha256(self, tmp_path: Path) -> None:
        source = tmp_path / "model.joblib"
        source.write_bytes(b"weights")
        stored = ArtifactStore(str(tmp_path / "root")).put(str(source))
        hexdigest = hashlib.sha256(b"weights").hexdigest()
        assert stored.digest == f"sha256:{hexdigest}"
        assert stored.uri == f"file://{tmp_path}/root/sha256/{hexdigest}/model.joblib"
        assert local_path(stored.uri).read_bytes() == b"weights"
        assert (stored.kind, stored.size) == ("file", 7)

    def test_the_same_content_is_stored_once(self, tmp_path: Path) -> None:
        store = ArtifactStore(str(tmp_path / "root"))
        (tmp_path / "a.pkl").write_bytes(b"same")
        (tmp_path / "b.pkl").write_bytes(b"same")
        first, second = store.put(str(tmp_path / "a.pkl")), store.put(str(tmp_path / "b.pkl"))
        assert first == second

    def test_a_directory_digest_ignores_creation_order_but_not_names_or_bytes(self, tmp_path: Path) -> None:
        files = {"MLmodel": b"flavors: {}", "model/model.pkl": b"\x80weights", "conda.yaml": b"deps"}
        one = make_dir(tmp_path / "one", files)
        two = make_dir(tmp_path / "two", dict(reversed(list(files.items()))))
        assert digest_of(str(one)) == digest_of(str(two))
        renamed = make_dir(tmp_path / "three", {**files, "model/other.pkl": files["model/model.pkl"]})
        (renamed / "model" / "model.pkl").unlink()
        changed = make_dir(tmp_path / "four", {**files, "conda.yaml": b"deps2"})
        assert len({digest_of(str(p)) for p in (one, renamed, changed)}) == 3

    def test_a_directory_is_stored_whole_and_keeps_its_digest(self, tmp_path: Path) -> None:
        source = make_dir(tmp_path / "mlflow-model", {"MLmodel": b"x", "sub/model.pkl": b"y"})
        stored = ArtifactStore(str(tmp_path / "root")).put(str(source))
        assert stored.kind == "directory" and stored.uri.endswith("/mlflow-model")
        assert digest_of(stored.uri) == digest_of(str(source)) == stored.digest
        assert (local_path(stored.uri) / "sub" / "model.pkl").read_bytes() == b"y"

    def test_a_file_url_root_works_like_a_path(self, tmp_path: Path) -> None:
        (tmp_path / "m.onnx").write_bytes(b"onnx")
        stored = ArtifactStore(f"file://{tmp_path}/root").put(f"file://{tmp_path}/m.onnx")
        assert stored.uri.startswith(f"file://{tmp_path}/root/sha256/")
        assert digest_of(stored.uri) == stored.digest

    def test_an_fsspec_memory_root_stores_files_and_directories(self, tmp_path: Path) -> None:
        root = f"memory://{uuid.uuid4().hex}"
        store = ArtifactStore(root)
        (tmp_path / "m.pkl").write_bytes(b"pickle")
        source = make_dir(tmp_path / "d", {"MLmodel": b"x", "a/b": b"c"})
        file_, dir_ = store.put(str(tmp_path / "m.pkl")), store.put(str(source))
        assert file_.uri.startswith("memory:///") and dir_.uri.startswith("memory:///")
        fs = fsspec.filesystem("memory")
        assert fs.cat(file_.uri) == b"pickle"
        assert digest_of(dir_.uri) == digest_of(str(source))

    def test_a_source_on_another_filesystem_is_copied_in(self, tmp_path: Path) -> None:
        source = f"memory://{uuid.uuid4().hex}/model.pkl"
        fsspec.filesystem("memory").pipe(source, b"remote bytes")
        stored = ArtifactStore(str(tmp_path / "root")).put(source)
        assert local_path(stored.uri).read_bytes() == b"remote bytes"

    def test_a_missing_source_is_not_found(self, tmp_path: Path) -> None:
        with pytest.raises(NotFound):
            ArtifactStore(str(tmp_path / "root")).put(str(tmp_path / "nope.pkl"))


class TestFetchingVerifiesTheDigest:
    def test_a_remote_artifact_is_cached_and_the_cache_is_rechecked(self, tmp_path: Path) -> None:
        (tmp_path / "m.pkl").write_bytes(b"good")
        stored = ArtifactStore(f"memory://{uuid.uuid4().hex}").put(str(tmp_path / "m.pkl"))
        cached = fetch(stored.uri, stored.digest, cache_dir=tmp_path / "cache")
        assert cached.read_bytes() == b"good" and tmp_path / "cache" in cached.parents
        cached.write_bytes(b"evil")
        with pytest.raises(ArtifactMismatch):
            fetch(stored.uri, stored.digest, cache_dir=tmp_path / "cache")

    def test_a_changed_remote_artifact_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "m.pkl").write_bytes(b"good")
        stored = ArtifactStore(f"memory://{uuid.uuid4().hex}").put(str(tmp_path / "m.pkl"))
        fsspec.filesystem("memory").pipe(stored.uri, b"swapped")
        with pytest.raises(ArtifactMismatch) as caught:
            fetch(stored.uri, stored.digest, cache_dir=tmp_path / "cache")
        assert caught.value.details["digest"] == "sha256:" + hashlib.sha256(b"swapped").hexdigest()

    def test_a_version_without_a_digest_cannot_be_checked_and_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ArtifactMismatch, match="no recorded digest"):
            fetch(str(tmp_path / "x.pkl"), None, cache_dir=tmp_path)


def approved(ctx: Context, tmp_path: Path) -> tuple[str, EmbeddedClient]:
    dana, rita = EmbeddedClient(actor="dana", context=ctx), EmbeddedClient(actor="rita", context=ctx)
    name = unique("art")
    dana.register(name, str(save_joblib(fit_classifier(), tmp_path / "model.joblib")))
    rita.approve(name, 1, "dev")
    return name, dana


class TestLoadingAnApprovedVersion:
    def test_register_stores_the_artifact_and_records_its_digest_and_flavor(self, ctx: Context, tmp_path: Path) -> None:
        dana = EmbeddedClient(actor="dana", context=ctx)
        path = save_joblib(fit_classifier(), tmp_path / "model.joblib")
        v = dana.register(unique("art"), str(path))
        assert v.digest == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        assert v.flavor == "sklearn" and v.stored is True
        assert v.artifact_uri.startswith(f"file://{ctx.settings.resolved_artifact_root()}")

    def test_approvals_record_the_digest_they_approved(self, ctx: Context, tmp_path: Path) -> None:
        name, dana = approved(ctx, tmp_path)
        digest = dana.version(name, 1).digest
        request = dana.requests(model=name, env="dev")[0]
        assert request.digest == digest
        with ctx.engine.connect() as conn:
            decisions = conn.execute(select(DecisionRow.digest).where(DecisionRow.request_id == request.id)).all()
        assert [d for (d,) in decisions] == [digest]
        assert dana.parameter(f"/signoff/models/{name}/dev").value["digest"] == digest

    def test_the_resolved_version_loads_and_predicts(self, ctx: Context, tmp_path: Path) -> None:
        name, dana = approved(ctx, tmp_path)
        model = dana.resolve(name, "dev").load()
        assert model.flavor == "sklearn" and model.is_classifier

    def test_a_changed_artifact_is_refused_audited_and_announced(self, ctx: Context, tmp_path: Path) -> None:
        name, dana = approved(ctx, tmp_path)
        live = dana.resolve(name, "dev")
        stored = local_path(live.artifact_uri)
        stored.write_bytes(stored.read_bytes() + b"\x00")
        with pytest.raises(ArtifactMismatch) as caught:
            live.load()
        assert caught.value.code == "artifact_mismatch"
        assert "refusing to load" in caught.value.message and live.digest in caught.value.message
        entries = [e for e in dana.audit(model=name) if e.action == "artifact.digest_mismatch"]
        assert len(entries) == 1 and entries[0].after["expected_digest"] == live.digest
        mismatches = dana.events(type=events.ARTIFACT_MISMATCH)
        assert [e.event["data"]["model"] for e in mismatches] == [name]
        assert dana.verify_audit().ok

    def test_a_deleted_artifact_is_refused(self, ctx: Context, tmp_path: Path) -> None:
        name, dana = approved(ctx, tmp_path)
        live = dana.resolve(name, "dev")
        local_path(live.artifact_uri).unlink()
        with pytest.raises(ArtifactMismatch, match="is missing"):
            live.load()

    def test_an_unreadable_uri_is_registered_without_digest_and_cannot_be_loaded(
        self, tmp_path: Path, clock: object,
    ) -> None:
        from signoff.bootstrap import bootstrap
        from tests.conftest import ENVIRONMENTS, make_settings

        # Only where the policy says so can a version whose bytes nobody can check be approved.
        envs = {**ENVIRONMENTS, "dev": {"approvers": ["ml-reviewers"], "require_digest": False}}
        ctx = bootstrap(make_settings(tmp_path, environments=envs), clock=clock)  # type: ignore[arg-type]
        try:
            dana, rita = EmbeddedClient(actor="dana", context=ctx), EmbeddedClient(actor="rita", context=ctx)
            name = unique("art")
            v = dana.register(name, "s3://bucket/elsewhere.pkl")
            assert (v.artifact_uri, v.digest, v.stored) == ("s3://bucket/elsewhere.pkl", None, False)
            rita.approve(name, 1, "dev")
            with pytest.raises(ArtifactMismatch, match="no recorded digest"):
                dana.resolve(name, "dev").load()
        finally:
            ctx.close()

    def test_store_true_with_a_missing_artifact_is_not_found(self, ctx: Context, tmp_path: Path) -> None:
        with pytest.raises(NotFound):
            EmbeddedClient(actor="dana", context=ctx).register(unique("art"), str(tmp_path / "no.pkl"), store=True)

    def test_a_memory_artifact_root_round_trips_through_register_and_load(self, tmp_path: Path, clock: object) -> None:
        from signoff.bootstrap import bootstrap
        from tests.conftest import make_settings

        ctx = bootstrap(make_settings(tmp_path, artifact_root=f"memory://{uuid.uuid4().hex}"), clock=clock)  # type: ignore[arg-type]
        try:
            name, dana = approved(ctx, tmp_path)
            live = dana.resolve(name, "dev")
            assert live.artifact_uri.startswith("memory:///")
            assert live.load().is_classifier
            fsspec.filesystem("memory").pipe(live.artifact_uri, b"swapped")
            # The verified local copy holds the approved bytes, so it still loads; without it the
            # swapped remote bytes are fetched, hashed and refused.
            assert dana.resolve(name, "dev").load().is_classifier
            with pytest.raises(ArtifactMismatch):
                dana.resolve(name, "dev").load(cache_dir=tmp_path / "fresh-cache")
        finally:
            ctx.close()
