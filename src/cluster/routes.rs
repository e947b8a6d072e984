//! `GET /api/cluster/`: the cluster as this node sees it.
