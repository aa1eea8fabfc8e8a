import type { MethodId } from '../../protocol/types';
import { cam } from './cam';
import { deconvnet } from './deconvnet';
import { gradcam } from './gradcam';
import { gradient } from './gradient';
import { gradxinput } from './gradxinput';
import { guidedBackprop } from './guidedBackprop';
import { guidedGradcam } from './guidedGradcam';
import { integratedGradients } from './integratedGradients';
import { occlusion } from './occlusion';
import { smoothgrad } from './smoothgrad';
import { smoothgradSq } from './smoothgradSq';
import type { AttributionMethod } from './types';
import { vargrad } from './vargrad';

export const METHODS: ReadonlyMap<MethodId, AttributionMethod> = new Map(
  [gradient, gradxinput, smoothgrad, smoothgradSq, vargrad, integratedGradients, guidedBackprop, deconvnet,
    cam, gradcam, guidedGradcam, occlusion].map((m) => [m.id, m]),
);
