# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  tags:
    description:
      - Tags of what the module makes, such as C(stage=dev).
      - The collection adds its own ownership tag, and C(Name) where AWS shows names, so that
        teardown finds exactly what the collection made.
    type: dict
    default: {}
  purge_tags:
    description:
      - Remove tags that are not in O(tags) (the collection's own tags are always kept).
    type: bool
    default: true
"""
