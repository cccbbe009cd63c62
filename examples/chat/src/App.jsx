import { useMutation, useQuery } from "convex/react";
import { anyApi } from "convex/server";
import { useState } from "react";

// Function references by name (chat:getMessages, chat:sendMessage), without generated code.
const api = anyApi;

// One name per browser tab is enough for a demonstration.
const NAME = `User ${Math.floor(Math.random() * 10000)}`;

export default function App() {
  const messages = useQuery(api.chat.getMessages);
  const sendMessage = useMutation(api.chat.sendMessage);
  const [text, setText] = useState("");
  // Every path shows this page (Caddy answers unknown paths with index.html): /room/1 too.
  const room = window.location.pathname.match(/^\/room\/([^/]+)/)?.[1];

  async function send(event) {
    event.preventDefault();
    if (!text.trim()) return;
    await sendMessage({ author: NAME, body: text });
    setText("");
  }

  return (
    <main>
      <h1>Convex chat{room ? ` (room ${room})` : ""}</h1>
      <p>Connected to {import.meta.env.VITE_CONVEX_URL}</p>
      <ul>
        {(messages ?? []).map((message) => (
          <li key={message._id}>
            <strong>{message.author}:</strong> {message.body}
          </li>
        ))}
      </ul>
      <form onSubmit={send}>
        <input
          aria-label="Message"
          placeholder="Write a message…"
          value={text}
          onChange={(event) => setText(event.target.value)}
        />
        <button type="submit" disabled={!text.trim()}>
          Send
        </button>
      </form>
    </main>
  );
}
