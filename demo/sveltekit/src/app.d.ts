// SvelteKit's ambient types (`App.*` are left as they are: this app has no locals or errors of its own).
/// <reference types="@sveltejs/kit" />
export {}
