/*
 * What a room's tsconfig maps forbidden packages to (`paths`): the import then has this type, and any use
 * of it fails the type check with the sentence below. ESLint's no-restricted-imports says the same at the import.
 */
declare const forbidden: 'this package belongs to another room (see ARCHITECTURE.md): reach it through src/protocol';
export = forbidden;
