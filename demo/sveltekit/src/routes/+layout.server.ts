import { publicUrl } from '$lib/server/atomkv'
import type { LayoutServerLoad } from './$types'

// Every page's browser client needs the service's URL: read on the server at run time, not baked into the build.
export const load: LayoutServerLoad = () => ({ atomkvUrl: publicUrl() })
