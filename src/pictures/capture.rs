//! One screenshot request and how it is sent to OBS (GetSourceScreenshot), whose answer is a
//! `data:image/...;base64,` URI decoded here into the image's bytes.

use base64::Engine;
use futures_util::future::BoxFuture;
use obws::{requests::sources::TakeScreenshot, Client};

use crate::obs::{Answered, CapabilityCommand, CommandError};

/// The image formats the hub serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    /// OBS's name for it (`imageFormat`).
    pub fn obs_name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }
}

/// obs-websocket's bounds for `imageWidth` and `imageHeight`.
pub const SIDE_RANGE: std::ops::RangeInclusive<u32> = 8..=4096;
/// obs-websocket's bounds for `imageCompressionQuality` (-1, OBS's default, is sent when the
/// client gives none).
pub const QUALITY_RANGE: std::ops::RangeInclusive<i32> = 0..=100;

/// What to capture and how.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Screenshot {
    /// A scene or an input, by name.
    pub source: String,
    pub format: Format,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub quality: Option<i32>,
}

/// Asks OBS for the picture and decodes it.
pub async fn take(client: &Client, screenshot: &Screenshot) -> Result<Vec<u8>, CommandError> {
    let uri = client
        .sources()
        .take_screenshot(TakeScreenshot {
            source: screenshot.source.as_str().into(),
            format: screenshot.format.obs_name(),
            width: screenshot.width,
            height: screenshot.height,
            compression_quality: Some(screenshot.quality.unwrap_or(-1)),
        })
        .await?;
    decode(&uri)
}

/// The bytes of a `data:image/<format>;base64,<data>` URI.
pub fn decode(uri: &str) -> Result<Vec<u8>, CommandError> {
    let data = uri.split_once(";base64,").map_or(uri, |(_, data)| data);
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|error| CommandError::LinkFailed(format!("OBS sent an unreadable image: {error}")))
}

impl CapabilityCommand for Screenshot {
    fn request_name(&self) -> &'static str {
        "GetSourceScreenshot"
    }

    fn run(self: Box<Self>, client: &Client) -> BoxFuture<'_, Result<Answered, CommandError>> {
        Box::pin(async move { Ok(Answered::new(take(client, &self).await?)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_uri_decodes_to_its_bytes() {
        assert_eq!(decode("data:image/png;base64,AAEC").unwrap(), vec![0, 1, 2]);
        assert!(matches!(
            decode("data:image/png;base64,not base64!"),
            Err(CommandError::LinkFailed(_))
        ));
    }
}
