// The standalone verifier page (verify.html): the verifier of verifier.js, with its form, on the whole page.
import { mountVerifier } from "./verifier.js";

mountVerifier(document.getElementById("verifier"), { params: location.search });
