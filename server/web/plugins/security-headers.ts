// The web server's security headers, on every answer (pages, files and the
// API alike), through @fastify/helmet rather than by hand.
//
// The Content-Security-Policy is strict because the build allows it: Vite
// writes one external module script and one stylesheet into index.html, and
// Svelte compiles component styles into that stylesheet (no <style> element
// at run time); the one style the app sets from code (ProgressBar's
// `style:width`) goes through the CSSOM, which CSP does not govern. So
// neither scripts nor styles need 'unsafe-inline', and the browser test
// checks the console for violations.
import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'

export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  // data: for the favicon, which index.html carries inline.
  imgSrc: ["'self'", 'data:'],
  // The API and the live events' websocket, both on this origin.
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  // Nobody may frame the admin (clickjacking an "add account" button).
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
}

export default fp(
  async (app) => {
    await app.register(helmet, {
      contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
      // The pages link nowhere that should learn the box's address.
      referrerPolicy: { policy: 'no-referrer' },
      xFrameOptions: { action: 'deny' },
      // A year, and not for subdomains: a gateway's domain may have other
      // hosts that are not ours to force onto HTTPS. Browsers ignore the
      // header on a certificate they had to be told to accept, so on a box
      // with its self-signed certificate it is harmless, and on a gateway
      // with a real one it keeps the login off plain HTTP.
      strictTransportSecurity: { maxAge: 365 * 24 * 60 * 60, includeSubDomains: false },
    })
  },
  { name: 'outpost-security-headers' },
)
