//! Simulated obs-websocket v5 server. (Being written.)
