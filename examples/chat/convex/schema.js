import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

// One table: the messages of the chat.
export default defineSchema({
  messages: defineTable({
    author: v.string(),
    body: v.string(),
  }),
});
