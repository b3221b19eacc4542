/** `relaymesh/client`: the SDK, which ships on its own as @relaymesh/client (no server dependencies). */
export * from '@relaymesh/client';
