import { mutationGeneric, queryGeneric } from "convex/server";
import { v } from "convex/values";

// The generic builders need no generated code, so the functions deploy from a plain checkout.

export const sendMessage = mutationGeneric({
  args: { author: v.string(), body: v.string() },
  handler: async (ctx, { author, body }) => {
    await ctx.db.insert("messages", { author, body });
  },
});

// The newest 50 messages, oldest first.
export const getMessages = queryGeneric({
  args: {},
  handler: async (ctx) => {
    const newest = await ctx.db.query("messages").order("desc").take(50);
    return newest.reverse();
  },
});
