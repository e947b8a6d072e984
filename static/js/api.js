// The hub's REST API, with this browser's token as a Bearer header. Errors are thrown as
// `Error`s whose message is the hub's own `message` (README, "Errors"); a 401 tells the page to
// ask for a token.

const TOKEN_KEY = "obs-hub-token";

export function readToken() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch (_) {
    return null;
  }
}

export function keepToken(token) {
  try {
    localStorage.setItem(TOKEN_KEY, token);
  } catch (_) {
    // private mode: the token lasts for this page only
  }
}

export function instancePath(name, route) {
  return `/api/instances/${encodeURIComponent(name)}/${route}`;
}

// Path segments (scene, input names) in a route.
export function segment(name) {
  return encodeURIComponent(name);
}

export function createApi({ token, onUnauthorized }) {
  return async function api(method, path, body) {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const current = token();
    if (current) headers.authorization = `Bearer ${current}`;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new Error(`The hub did not answer (${error.message}).`);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      // not JSON: the status says enough
    }
    if (response.status === 401) onUnauthorized(data && data.message);
    if (!response.ok) {
      const error = new Error((data && data.message) || `The hub answered ${response.status}.`);
      error.status = response.status;
      error.code = data && data.error;
      throw error;
    }
    return data;
  };
}
