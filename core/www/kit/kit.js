// Everything of the kit in one import: import { api, t, toast, modal, h } from "/kit/kit.js".
export { api, ApiError, qs, csrf, setCsrf } from "/kit/api.js";
export { t, addMessages, setLang, lang, pick, fmtDate, fmtDateTime, fmtTime, fmtNumber, translate, ready } from "/kit/i18n.js";
export { route, navigate, current, parse } from "/kit/router.js";
export { live } from "/kit/live.js";
export { h, uid, safeLink } from "/kit/dom.js";
export { toast, modal, confirmDialog, errorText, showErrorText } from "/kit/ui.js";
export { loadUnits, invalidateUnits, unitTree } from "/kit/pickers.js";
export { uploadFile } from "/kit/upload.js";
import "/kit/table.js";
import "/kit/form.js";
import "/kit/board.js";
import "/kit/timeline.js";
import "/kit/layout.js";
export { me, can, holds } from "/kit/session.js";
