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
//!   ETag and Cache-Control; `POST pictures/urls`, a short-lived signed URL of a picture;
//! - [`names`]: a picture's canonical path, which paths are pictures (all a signed URL may
//!   open), the `picture:` topics of the lossy channel;
//! - [`notices`]: "picture updated", the lossy notice to WebSocket clients that subscribed.

pub mod cache;
pub mod capture;
pub mod names;
pub mod notices;
pub mod routes;
pub mod window;
