// Playground: each form runs one request through /playground/run/<operation>/ (the gateway, as the
// signed-in person) and renders the answer in place: text token by token, images and audio as blobs.
"use strict";

(() => {
  const csrf = () => (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  const API_PATHS = {
    chat: "/v1/chat/completions",
    image: "/v1/images/generations",
    speech: "/v1/audio/speech",
    transcription: "/v1/audio/transcriptions",
  };

  function payload(operation, form) {
    const data = new FormData(form);
    const text = (name) => (data.get(name) || "").toString();
    const number = (name) => (text(name) === "" ? undefined : Number(text(name)));
    if (operation === "chat") {
      const messages = [];
      if (text("system").trim()) messages.push({ role: "system", content: text("system") });
      messages.push({ role: "user", content: text("prompt") });
      return { model: text("model"), messages, temperature: number("temperature"), max_tokens: number("max_tokens"), stream: true };
    }
    if (operation === "image") {
      const body = { model: text("model"), prompt: text("prompt"), size: text("size"), response_format: "b64_json" };
      if (number("seed") !== undefined) body.seed = number("seed");
      return body;
    }
    if (operation === "speech") return { model: text("model"), input: text("input"), voice: text("voice") };
    return null; // transcription: multipart
  }

  function snippets(operation, body, form) {
    const url = window.location.origin + API_PATHS[operation];
    if (operation === "transcription") {
      const model = new FormData(form).get("model");
      return {
        curl: `curl ${url} \\\n  -H "Authorization: Bearer $MCP_GATEWAY_KEY" \\\n  -F model=${model} -F file=@audio.mp3`,
        python: `import os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url="${window.location.origin}/v1", api_key=os.environ["MCP_GATEWAY_KEY"])\n` +
          `with open("audio.mp3", "rb") as audio:\n    print(client.audio.transcriptions.create(model="${model}", file=audio).text)`,
      };
    }
    const json = JSON.stringify(body, null, 2);
    const call = {
      chat: "chat.completions.create",
      image: "images.generate",
      speech: "audio.speech.create",
    }[operation];
    const args = Object.entries(body).map(([k, v]) => `    ${k}=${JSON.stringify(v).replace(/\btrue\b/g, "True").replace(/\bfalse\b/g, "False")},`).join("\n");
    return {
      curl: `curl ${url} \\\n  -H "Authorization: Bearer $MCP_GATEWAY_KEY" \\\n  -H "Content-Type: application/json" \\\n  -d '${json.replace(/'/g, "'\\''")}'`,
      python: `import os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url="${window.location.origin}/v1", api_key=os.environ["MCP_GATEWAY_KEY"])\n` +
        `result = client.${call}(\n${args}\n)`,
    };
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      return (body.error && body.error.message) || `The gateway answered ${response.status}.`;
    } catch (_) {
      return `The gateway answered ${response.status}.`;
    }
  }

  async function streamChat(response, output) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
          const chunk = JSON.parse(line.slice(6));
          if (chunk.error) throw new Error(chunk.error.message || "The stream ended with an error.");
          const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
          if (delta && delta.content) output.append(document.createTextNode(delta.content));
        }
      }
    }
  }

  async function showCost(requestId, status) {
    if (!requestId) return;
    for (let attempt = 0; attempt < 15; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 600));
      const response = await fetch(`/playground/cost/${encodeURIComponent(requestId)}/`, { credentials: "same-origin" });
      if (!response.ok) return;
      const body = await response.json();
      if (body.recorded) {
        status.textContent = `Done. Cost: ${body.credits} credits (request ${requestId}).`;
        return;
      }
    }
    status.textContent = `Done (request ${requestId}); its cost will show on the Usage page.`;
  }

  async function run(form) {
    const operation = form.dataset.operation;
    const result = form.parentElement.querySelector(".run-result");
    const output = result.querySelector("[data-output]");
    const status = result.querySelector("[data-status]");
    const button = form.querySelector("button[type=submit]");
    const body = payload(operation, form);
    const code = snippets(operation, body, form);
    result.querySelector('[data-code="curl"]').textContent = code.curl;
    result.querySelector('[data-code="python"]').textContent = code.python;
    output.replaceChildren();
    status.textContent = "Running…";
    button.disabled = true;
    try {
      const init = { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() } };
      if (body) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      } else {
        init.body = new FormData(form);
      }
      const response = await fetch(`/playground/run/${operation}/`, init);
      if (!response.ok) throw new Error(await errorMessage(response));
      const requestId = response.headers.get("X-Request-ID");
      if (operation === "chat") {
        await streamChat(response, output);
      } else if (operation === "image") {
        const data = (await response.json()).data[0];
        const image = document.createElement("img");
        image.src = data.b64_json ? `data:image/jpeg;base64,${data.b64_json}` : data.url;
        image.alt = `Generated image: ${body.prompt}`;
        output.append(image);
      } else if (operation === "speech") {
        const audio = document.createElement("audio");
        audio.controls = true;
        audio.src = URL.createObjectURL(await response.blob());
        audio.setAttribute("aria-label", "Generated speech");
        output.append(audio);
      } else {
        output.textContent = (await response.json()).text;
      }
      status.textContent = "Done.";
      showCost(requestId, status);
    } catch (error) {
      status.textContent = "";
      const alert = document.createElement("p");
      alert.className = "error";
      alert.setAttribute("role", "alert");
      alert.textContent = error.message;
      output.replaceChildren(alert);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-operation]");
    if (!form) return;
    event.preventDefault();
    run(form);
  });
})();
