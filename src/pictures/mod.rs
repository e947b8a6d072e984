//! The pictures capability: what is on program, on preview, or in one source, as a JPEG or PNG
//! image, captured once for every viewer.
//!
//! - [`window`]: the pure rule of sharing: per picture, at most N captures a second, only when
//!   asked, every request of a window answered with the same bytes;
//! - [`capture`]: a screenshot request and how it is sent to OBS (GetSourceScreenshot);
//! - [`cache`]: the thin shell holding one window per picture, where concurrent requests wait
//!   for the one capture in flight;
//! - [`routes`]: `GET screenshot/program`, `GET screenshot/preview`,
//!   `GET sources/{source}/screenshot` with their query (format, width, height, quality),
//!   ETag and Cache-Control.
//!
//! Not here yet: the lossy "picture updated" WebSocket notice and short-lived signed URLs for
//! `<img>` (a picture needs read access like any status route).

pub mod cache;
pub mod capture;
pub mod routes;
pub mod window;
