//! How a picture is named outside the hub: the canonical URL path of each picture (what signed
//! URLs and notices carry), which paths are pictures (what a signed URL may open), and the
//! lossy-channel topics of pictures (`picture:program`, `picture:preview`,
//! `picture:source/<name>`, each with an optional `?format=..&width=..` query).

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::{capture::Format, routes::PictureQuery};

/// The lossy-channel family of picture topics.
pub const FAMILY: &str = "picture";

/// Everything but RFC 3986's unreserved characters is escaped in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Which picture of an instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Picture {
    Program,
    Preview,
    /// A scene or an input, by name.
    Source(String),
}

fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

impl Picture {
    /// The picture's route under `/api/instances/{instance}`, escaped.
    pub fn path(&self, instance: &str) -> String {
        let instance = segment(instance);
        match self {
            Self::Program => format!("/api/instances/{instance}/screenshot/program"),
            Self::Preview => format!("/api/instances/{instance}/screenshot/preview"),
            Self::Source(source) => {
                format!(
                    "/api/instances/{instance}/sources/{}/screenshot",
                    segment(source)
                )
            }
        }
    }
}

impl PictureQuery {
    /// The query string that asks for this picture (empty for the defaults), in a fixed order.
    pub fn query_string(&self) -> String {
        let mut pairs = Vec::new();
        if self.format == Format::Png {
            pairs.push("format=png".to_string());
        }
        if let Some(width) = self.width {
            pairs.push(format!("width={width}"));
        }
        if let Some(height) = self.height {
            pairs.push(format!("height={height}"));
        }
        if let Some(quality) = self.quality {
            pairs.push(format!("quality={quality}"));
        }
        pairs.join("&")
    }
}

/// True for the pictures' routes, under `/api` and `/api/instances/{name}` (raw, escaped
/// paths, as requests carry them): the only routes a signed URL may open.
pub fn is_picture_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/") else {
        return false;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let segments = match segments.as_slice() {
        ["instances", instance, rest @ ..] if plain_segment(instance) => rest,
        all => all,
    };
    match segments {
        ["screenshot", "program" | "preview"] => true,
        ["sources", source, "screenshot"] => plain_segment(source),
        _ => false,
    }
}

/// A path segment that names something: not empty, not `.` or `..`.
fn plain_segment(segment: &str) -> bool {
    !matches!(segment, "" | "." | "..")
}

/// A picture topic, parsed: which picture and how it is asked for. The error says what is
/// wrong, for the subscribing client.
pub fn parse_topic(topic: &str) -> Result<(Picture, PictureQuery), String> {
    let rest = topic
        .strip_prefix("picture:")
        .ok_or_else(|| format!("`{topic}` is not a picture topic"))?;
    let (name, query) = rest.split_once('?').unwrap_or((rest, ""));
    let picture = match name {
        "program" => Picture::Program,
        "preview" => Picture::Preview,
        _ => match name.strip_prefix("source/") {
            Some(source) if !source.is_empty() => Picture::Source(
                percent_decode_str(source)
                    .decode_utf8()
                    .map_err(|_| format!("`{topic}`: the source name is not UTF-8 once unescaped"))?
                    .into_owned(),
            ),
            _ => {
                return Err(format!(
                    "unknown picture topic `{topic}`: use `picture:program`, `picture:preview` \
                     or `picture:source/<name>` (name URL-escaped), optionally followed by \
                     `?format=png&width=320`"
                ))
            }
        },
    };
    let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|error| format!("`{topic}`: unreadable query ({error})"))?
        .into_inner();
    let query = PictureQuery::parse(&pairs).map_err(|error| format!("`{topic}`: {error}"))?;
    Ok((picture, query))
}

/// [`parse_topic`] as the lossy channel's check of a topic name.
pub fn check_topic(topic: &str) -> Result<(), String> {
    parse_topic(topic).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_have_one_escaped_path_each() {
        assert_eq!(
            Picture::Program.path("default"),
            "/api/instances/default/screenshot/program"
        );
        assert_eq!(
            Picture::Source("My Cam/2".into()).path("studio"),
            "/api/instances/studio/sources/My%20Cam%2F2/screenshot"
        );
        for path in [
            Picture::Program.path("a b"),
            Picture::Preview.path("default"),
            Picture::Source("Cam é?".into()).path("default"),
        ] {
            assert!(is_picture_path(&path), "{path}");
        }
    }

    #[test]
    fn only_picture_routes_are_picture_paths() {
        for path in [
            "/api/screenshot/program",
            "/api/screenshot/preview",
            "/api/sources/Cam/screenshot",
            "/api/instances/default/screenshot/program",
        ] {
            assert!(is_picture_path(path), "{path}");
        }
        for path in [
            "/api/stream-status",
            "/api/screenshot/program/extra",
            "/api/screenshot",
            "/api/instances/default/stream-status",
            "/api/instances/default/switch-scene",
            "/api/sources//screenshot",
            "/api/sources/../screenshot",
            "/api/instances/../screenshot/program",
            "/api/webhooks/screenshot/program",
            "/ws",
            "/screenshot/program",
        ] {
            assert!(!is_picture_path(path), "{path}");
        }
    }

    #[test]
    fn topics_name_a_picture_and_its_query() {
        assert_eq!(
            parse_topic("picture:program").unwrap(),
            (Picture::Program, PictureQuery::parse(&[]).unwrap())
        );
        let (picture, query) = parse_topic("picture:source/My%20Cam?format=png&width=320").unwrap();
        assert_eq!(picture, Picture::Source("My Cam".into()));
        assert_eq!(query.query_string(), "format=png&width=320");
        assert_eq!(
            parse_topic("picture:preview?quality=50").unwrap().1.quality,
            Some(50)
        );
        for (bad, says) in [
            ("picture:sideways", "unknown picture topic"),
            ("picture:source/", "unknown picture topic"),
            ("picture:program?width=5000", "`width`"),
            ("picture:program?size=1", "`size`"),
            ("meters", "not a picture topic"),
        ] {
            let error = parse_topic(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn the_query_string_is_what_the_route_parses_back() {
        let pairs = |query: &str| {
            actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
                .unwrap()
                .into_inner()
        };
        for query in ["", "format=png", "width=8&height=4096&quality=0"] {
            let parsed = PictureQuery::parse(&pairs(query)).unwrap();
            assert_eq!(parsed.query_string(), query);
        }
    }
}
