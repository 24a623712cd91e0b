import numpy as np
import pytest

from simcse_lab.cluster import HDBSCANClusterer, KMeansClusterer, default_min_cluster_size, make_clusterer
from simcse_lab.config import ClusterConfig
from simcse_lab.metrics import score_clustering


def blobs(n_per=40, k=3, d=5, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=20, size=(k, d))
    x = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centers]).astype(np.float32)
    return x, np.repeat(np.arange(k), n_per)


def test_kmeans_recovers_blobs():
    x, y = blobs()
    labels = KMeansClusterer(n_clusters=3, random_state=0).fit_predict(x)
    assert score_clustering(y, labels)["v_measure"] == pytest.approx(1.0)


def test_hdbscan_soft_assigns_every_point_and_reports_noise():
    x, y = blobs()
    outlier = np.full((1, x.shape[1]), 500.0, dtype=np.float32)
    x = np.concatenate([x, outlier])
    c = HDBSCANClusterer(min_cluster_size=10, min_samples=5, soft=True)
    labels = c.fit_predict(x)
    assert labels.min() >= 0 and c.n_clusters_ == 3
    assert c.hard_labels_[-1] == -1 and c.noise_fraction_ > 0
    assert score_clustering(y, labels[:-1])["v_measure"] == pytest.approx(1.0)
    hard = HDBSCANClusterer(min_cluster_size=10, min_samples=5, soft=False).fit_predict(x)
    assert hard[-1] == -1


def test_hdbscan_all_noise_is_one_cluster_not_a_crash():
    x = np.random.default_rng(0).normal(size=(30, 50)).astype(np.float32)
    c = HDBSCANClusterer(min_cluster_size=25, min_samples=10)
    labels = c.fit_predict(x)
    assert c.n_clusters_ == 0 and c.noise_fraction_ == 1.0 and set(labels) == {0}


def test_factory_defaults():
    cfg = ClusterConfig()
    km = make_clusterer("kmeans", cfg, n_samples=1000, n_classes=6)
    assert isinstance(km, KMeansClusterer) and km.n_clusters == 6
    hd = make_clusterer("hdbscan", cfg, n_samples=40_000, n_classes=6)
    assert hd.min_cluster_size == 1000 == default_min_cluster_size(40_000)  # the seed's setting
    with pytest.raises(ValueError, match="unknown clusterer 'dbscan'"):
        make_clusterer("dbscan", cfg, n_samples=10, n_classes=2)
    with pytest.raises(ValueError, match="n_clusters"):
        make_clusterer("kmeans", cfg, n_samples=10, n_classes=None)
    with pytest.raises(ValueError, match="at least n_clusters"):
        KMeansClusterer(n_clusters=5).fit_predict(np.zeros((3, 2)))


def test_identity_reducer_and_factory():
    from simcse_lab.config import ReduceConfig
    from simcse_lab.reduce import IdentityReducer, UMAPReducer, make_reducer

    x = np.ones((5, 3), dtype=np.float64)
    out = make_reducer("raw", ReduceConfig()).fit_transform(x)
    assert isinstance(make_reducer("raw", ReduceConfig()), IdentityReducer)
    assert out.dtype == np.float32 and out.shape == (5, 3)
    assert isinstance(make_reducer("umap", ReduceConfig()), UMAPReducer)
    with pytest.raises(ValueError, match="unknown space 'pca'"):
        make_reducer("pca", ReduceConfig())


@pytest.mark.slow
def test_umap_keeps_blobs_apart():
    from simcse_lab.reduce import UMAPReducer

    x, y = blobs(n_per=30, d=20)
    emb = UMAPReducer(n_components=2, n_neighbors=10, random_state=0).fit_transform(x)
    assert emb.shape == (90, 2) and emb.dtype == np.float32
    labels = KMeansClusterer(n_clusters=3, random_state=0).fit_predict(emb)
    assert score_clustering(y, labels)["v_measure"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 4 points"):
        UMAPReducer().fit_transform(x[:3])


def test_extra_labelings_come_from_the_clusterer():
    x = np.r_[np.random.default_rng(0).normal(0, 0.1, (30, 2)), np.random.default_rng(1).normal(5, 0.1, (30, 2))]
    soft = HDBSCANClusterer(min_cluster_size=5, soft=True)
    labels = soft.fit_predict(x)
    assert list(soft.extra_labels_) == ["hdbscan-hard"]
    assert np.array_equal(soft.extra_labels_["hdbscan-hard"], soft.hard_labels_) and len(labels) == 60
    hard = HDBSCANClusterer(min_cluster_size=5, soft=False)
    hard.fit_predict(x)
    assert hard.extra_labels_ == {}
    km = KMeansClusterer(n_clusters=2)
    km.fit_predict(x)
    assert km.extra_labels_ == {}
